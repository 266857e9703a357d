#!/usr/bin/env node
// npm run lab: the project's main job on a fresh machine (after npm ci). Installs what it lacks
// when root (else says exactly what to install), packs the charm, boots Debian's kernel under qemu
// (or uses network namespaces directly where the kernel has VRF), builds scenario 1's multi-homed
// host, prints the before/after connectivity matrices and the show-vrfs summary, and exits
// non-zero unless the after matrix is fully green.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { HostPrerequisiteError, isRoot, missingPackages } from './vm/deps.mjs';
import { repoRoot } from './vm/paths.mjs';
import { runKernelJob } from './vm/run.mjs';

if (!isRoot()) {
  const missing = missingPackages();
  console.error(
    'npm run lab must run as root: it creates network namespaces and VRFs (in a VM on kernels without VRF).',
  );
  if (missing.length) console.error(`It also needs: apt-get install ${missing.join(' ')}`);
  process.exit(1);
}
if (!process.argv.includes('--no-pack')) {
  console.log('# npm run pack');
  const p = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'pack.mjs'), '--bundle-node'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  if (p.status !== 0) {
    console.error(`npm run pack failed (exit ${p.status})`);
    process.exit(1);
  }
}
try {
  const r = await runKernelJob({
    script: path.join(repoRoot, 'tests', 'kernel', 'lab.guest.mjs'),
    timeoutMs: 20 * 60_000,
    stream: process.stdout,
    log: (s) => console.log(`# ${s}`),
  });
  console.log(
    `# lab ran ${r.mode === 'vm' ? `in a VM on Debian's kernel (boot ${r.timings.bootMs} ms)` : 'natively'}; artifacts in ${r.shareDir}`,
  );
  process.exit(r.exitCode === 0 ? 0 : 1);
} catch (e) {
  if (e instanceof HostPrerequisiteError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
