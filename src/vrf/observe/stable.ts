/**
 * `ip -json` output without the values that change by themselves: bridge and
 * bridge-port timers (gc_timer, hello_timer, … count down every second),
 * address lifetimes, route expiry, neighbour ages and counters. None of them is
 * read by the observe schemas (tests check that the observation is the same
 * with and without them), so two outputs that are equal here describe the same
 * host for vrf-host. The hook memo compares the host's ip reads in this form.
 * Loaded by the launcher: plain JSON, no zod.
 */

const VOLATILE = new Set([
  'valid_life_time',
  'preferred_life_time',
  'expires',
  'age',
  'used',
  'lastused',
  'updated',
  'stats',
  'stats64',
]);

export function isVolatileIpKey(key: string): boolean {
  return VOLATILE.has(key) || key.endsWith('_timer');
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!isVolatileIpKey(k)) out[k] = strip(x);
  return out;
}

/** Each line that is a JSON document, without its volatile keys; other lines as they are. */
export function stableIpJson(stdout: string): string {
  return stdout
    .split('\n')
    .map((line) => {
      if (line.trim() === '') return line;
      try {
        return JSON.stringify(strip(JSON.parse(line)));
      } catch {
        return line;
      }
    })
    .join('\n');
}

/** A line of an ip batch that only reads: `link|addr|route|rule show …` or `route get …` (optionally `-4`/`-6`). */
export function isIpReadLine(line: string): boolean {
  return /^(-[46] )?((link|addr|address|route|rule) show|route get)( |$)/.test(line);
}
