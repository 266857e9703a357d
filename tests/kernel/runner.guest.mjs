// Guest-side scenario runner: imports each scenario module, runs them one after another, prints
// one line per scenario and a final "# guest: N passed, N failed" (a comment: the host suite's
// "kernel: …" line is the one closing count), and writes results.json to
// $VRF_HOST_RESULTS. Usage: node runner.guest.mjs SCENARIO.mjs…
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createContext } from './lib/context.mjs';

const files = process.argv.slice(2);
const resultsDir = process.env.VRF_HOST_RESULTS ?? '/tmp';
/** @type {{ name: string, file: string, ok: boolean, ms: number, error: string | null, checks: unknown[], notes: unknown[] }[]} */
const results = [];
const save = () => writeFileSync(path.join(resultsDir, 'results.json'), `${JSON.stringify({ results }, null, 2)}\n`);

for (const file of files) {
  const mod = await import(pathToFileURL(path.resolve(file)).href);
  const name = mod.name ?? path.basename(file, '.mjs');
  const t = createContext(name);
  const t0 = Date.now();
  let error = null;
  console.log(`# ${name}: ${mod.description ?? ''}`);
  try {
    const timeoutMs = mod.timeoutMs ?? 5 * 60_000;
    await Promise.race([
      mod.run(t),
      new Promise((_, reject) =>
        globalThis.setTimeout(() => reject(new Error(`scenario timed out after ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.log(`#   error: ${error}`);
    if (e instanceof Error && e.stack)
      console.log(
        e.stack
          .split('\n')
          .slice(1, 6)
          .map((l) => `#   ${l}`)
          .join('\n'),
      );
  } finally {
    try {
      await t.cleanup();
    } catch (e) {
      console.log(`#   cleanup failed: ${e instanceof Error ? e.message : e}`);
    }
  }
  const failedChecks = t.checks.filter((c) => !c.ok);
  const ok = error === null && failedChecks.length === 0;
  const ms = Date.now() - t0;
  results.push({ name, file, ok, ms, error, checks: t.checks, notes: t.notes });
  save();
  console.log(
    `${ok ? 'ok' : 'not ok'} ${results.length} - ${name} (${ms} ms, ${t.checks.length - failedChecks.length}/${t.checks.length} checks)`,
  );
  for (const c of failedChecks) console.log(`#   FAILED: ${c.label}${c.detail ? ` — ${c.detail}` : ''}`);
}
const passed = results.filter((r) => r.ok).length;
console.log(`# guest: ${passed} passed, ${results.length - passed} failed`);
process.exit(results.length - passed === 0 && results.length > 0 ? 0 : 1);
