// The e2e project's jest globalSetup: packs the charm ONCE, before any test file runs, so no two
// workers build the same build/charm tree at once (the build starts with rm -rf build/charm).
// It packs as the charm ships, with bin/node. Every e2e file unpacks ./vrf-host.charm into a
// temporary directory of its own. The flock is the one `npm run test:kernel` and a second e2e run
// in the same checkout take around their packs.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PACK_LOCK = join(ROOT, 'build/.pack.lock');

export default function packOnce() {
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  const r = spawnSync('flock', [PACK_LOCK, process.execPath, join(ROOT, 'scripts/pack.mjs'), '--bundle-node'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`e2e global setup: npm run pack failed (exit ${r.status}):\n${r.stderr}`);
}
