// Runs inside the VM (or natively): reads job.json, runs the job's argv with its env, tees its
// output to the share's log, and exits with the job's exit code. Plain Node, no dependencies.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const jobFile = process.argv[2];
if (!jobFile) {
  console.error('usage: guest-entry.mjs JOB.json');
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const shareDir = path.dirname(jobFile);
const resultsDir = path.join(shareDir, 'results');
mkdirSync(resultsDir, { recursive: true });
const log = createWriteStream(path.join(shareDir, 'log'));
const t0 = Date.now();
const child = spawn(job.argv[0], job.argv.slice(1), {
  cwd: job.cwd,
  env: { ...process.env, ...job.env, VRF_HOST_RESULTS: resultsDir, VRF_HOST_IN_VM: job.inVm ? '1' : '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
for (const s of [child.stdout, child.stderr]) {
  s.on('data', (d) => {
    process.stdout.write(d);
    log.write(d);
  });
}
child.on('error', (e) => {
  const msg = `guest-entry: cannot start ${job.argv[0]}: ${e.message}\n`;
  process.stdout.write(msg);
  log.end(msg, () => process.exit(127));
});
child.on('close', (code, signal) => {
  const tail = `guest-entry: job exited ${code ?? signal} after ${Date.now() - t0} ms\n`;
  process.stdout.write(tail);
  log.end(tail, () => process.exit(code ?? 128));
});
