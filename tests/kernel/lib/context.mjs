// The object each scenario's run(t) receives: checks (non-fatal, all reported), notes, cleanups.
export function createContext(name) {
  const checks = [];
  const notes = [];
  const cleanups = [];
  return {
    name,
    checks,
    notes,
    /** Record a check; returns ok so callers can branch. */
    check(label, ok, detail = '') {
      checks.push({ label, ok: Boolean(ok), detail: detail ? String(detail) : '' });
      console.log(`#   ${ok ? '✔' : '✘'} ${label}${detail ? ` — ${detail}` : ''}`);
      return Boolean(ok);
    },
    /** Free-form line in the output and in results.json. */
    note(line) {
      notes.push(String(line));
      console.log(`#   ${line}`);
    },
    /** Print a table (array of row objects) as aligned text. */
    table(title, rows) {
      if (rows.length === 0) return;
      const cols = Object.keys(rows[0]);
      const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
      const line = (vals) => vals.map((v, i) => String(v ?? '').padEnd(w[i])).join('  ');
      const out = [title, line(cols), ...rows.map((r) => line(cols.map((c) => r[c])))];
      for (const l of out) this.note(l);
    },
    /** Register a cleanup (run in reverse order after the scenario, even on failure). */
    defer(fn) {
      cleanups.push(fn);
    },
    async cleanup() {
      while (cleanups.length) await cleanups.pop()();
    },
  };
}
