// The charm as an earlier commit packed it, for the upgrade scenario: `git archive COMMIT` into a
// temporary directory, this checkout's node_modules linked in, that commit's own `npm run pack --
// --bundle-node`. Runs on the host before the guest boots (the guest sees the host read-only), and
// is kept in .cache/old-charms/ (a commit's charm never changes).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Where the charm packed at `commit` is kept.
 * @param {string} commit
 */
export function oldCharmFile(commit) {
  return path.join(REPO, '.cache', 'old-charms', `vrf-host-${commit}.charm`);
}

/**
 * @param {[string, ...string[]]} argv
 * @param {{ cwd?: string }} [opts]
 */
function sh(argv, opts) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  if (r.status !== 0)
    throw new Error(
      `${argv.join(' ')} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-5).join(' | ')}`,
    );
  return r.stdout;
}

/**
 * Packs the charm of `commit` unless it is cached; returns its path.
 * @param {string} commit
 * @param {{ log?: (line: string) => void }} [options]
 */
export function buildOldCharm(commit, { log = console.log } = {}) {
  const out = oldCharmFile(commit);
  if (existsSync(out)) return out;
  const t0 = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'vrf-host-old-charm-'));
  try {
    sh(['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', REPO, commit, dir]);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    sh([process.execPath, path.join(dir, 'scripts', 'pack.mjs'), '--bundle-node'], { cwd: dir });
    mkdirSync(path.dirname(out), { recursive: true });
    copyFileSync(path.join(dir, 'vrf-host.charm'), `${out}.tmp`);
    sh(['mv', `${out}.tmp`, out]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`# packed the charm of ${commit.slice(0, 12)} (for the upgrade scenario) in ${Date.now() - t0} ms`);
  return out;
}
