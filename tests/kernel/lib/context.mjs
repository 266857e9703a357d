// The object each scenario's run(t) receives: checks (non-fatal, all reported), notes, cleanups.

/**
 * @typedef {{ label: string, ok: boolean, detail: string }} Check
 * @typedef {ReturnType<typeof createContext>} Context
 */

/** @param {string} name */
export function createContext(name) {
  /** @type {Check[]} */
  const checks = [];
  /** @type {string[]} */
  const notes = [];
  /** @type {(() => unknown)[]} */
  const cleanups = [];
  return {
    name,
    checks,
    notes,
    /**
     * Record a check; returns ok so callers can branch.
     * @param {string} label
     * @param {unknown} ok
     * @param {unknown} [detail]
     */
    check(label, ok, detail = '') {
      checks.push({ label, ok: Boolean(ok), detail: detail ? String(detail) : '' });
      console.log(`#   ${ok ? '✔' : '✘'} ${label}${detail ? ` — ${detail}` : ''}`);
      return Boolean(ok);
    },
    /**
     * Free-form line in the output and in results.json.
     * @param {unknown} line
     */
    note(line) {
      notes.push(String(line));
      console.log(`#   ${line}`);
    },
    /**
     * Print a table (array of row objects) as aligned text.
     * @param {string} title
     * @param {readonly Record<string, unknown>[]} rows
     */
    table(title, rows) {
      const [first] = rows;
      if (first === undefined) return;
      const cols = Object.keys(first);
      const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
      /** @param {unknown[]} vals */
      const line = (vals) => vals.map((v, i) => String(v ?? '').padEnd(w[i] ?? 0)).join('  ');
      const out = [title, line(cols), ...rows.map((r) => line(cols.map((c) => r[c])))];
      for (const l of out) this.note(l);
    },
    /**
     * Register a cleanup (run in reverse order after the scenario, even on failure).
     * @param {() => unknown} fn
     */
    defer(fn) {
      cleanups.push(fn);
    },
    async cleanup() {
      for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) await fn();
    },
  };
}
