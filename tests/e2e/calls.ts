/**
 * The charm reads config-get and every network-get concurrently, so their order in a record
 * depends on scheduling. For comparing two runs: each run of consecutive read-only calls sorted,
 * everything else kept in place.
 */
const CONCURRENT = new Set(['config-get', 'network-get']);

export function canonicalCalls<T extends { readonly tool: string }>(calls: readonly T[]): T[] {
  const out: T[] = [];
  let group: T[] = [];
  const flush = () => {
    out.push(
      ...group.sort((a, b) =>
        JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0,
      ),
    );
    group = [];
  };
  for (const c of calls) {
    if (CONCURRENT.has(c.tool)) group.push(c);
    else {
      flush();
      out.push(c);
    }
  }
  flush();
  return out;
}

/** A dispatch record with its calls in canonical order. */
export function canonicalRecord<R extends { readonly calls: readonly { readonly tool: string }[] }>(record: R): R {
  return { ...record, calls: canonicalCalls(record.calls) };
}
