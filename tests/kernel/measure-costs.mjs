#!/usr/bin/env node
// Host side: boot the kernel once and print the unit costs the suite is budgeted from.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKernelJob } from '../../scripts/vm/run.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const t0 = Date.now();
const r = await runKernelJob({
  script: path.join(here, 'measure-costs.guest.mjs'),
  args: process.argv.slice(2),
  timeoutMs: 10 * 60_000,
  log: console.error,
});
console.log(r.log);
console.log(
  `mode ${r.mode}; boot (qemu start → guest stage 2) ${r.timings.bootMs} ms; whole run ${Date.now() - t0} ms; exit ${r.exitCode}`,
);
process.exit(r.exitCode === 0 ? 0 : 1);
