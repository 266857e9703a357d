/**
 * What `dispatch` runs when it did not answer the hook itself (update-status's
 * memo, src/charm/memo.sh: a hit never starts Node). Bundled as
 * dist/launch.cjs, CommonJS: Node loads it ~5 ms faster than an ES module.
 * Two jobs:
 *
 *  1. Refuse a Node.js older than the oldest supported LTS (22) with a clear
 *     line on stderr and juju-log and a blocked status (dispatch starts no
 *     `node --version` for that: a whole process). The charm normally ships
 *     its own Node (bin/node); this is for a charm packed without it.
 *  2. Load the charm (dist/vrf-host.cjs), which runs the hook in full and
 *     says in its DEBUG line why the memo missed (VRF_HOST_MEMO_MISSED). It is
 *     compiled with a V8 code cache kept next to it (what Node's own CommonJS
 *     loader does, plus cachedData; Node 22's module.enableCompileCache does
 *     the same natively): a 1.5 MB bundle otherwise costs 40–50 ms of
 *     compiling per hook here, seconds under qemu.
 */
import Module from 'node:module';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import vm from 'node:vm';
import { BUILD, statusMemoryPath } from './charm/memo.js';
import { syncRun } from './ops/runner.js';

/** The oldest Node.js LTS line still supported (22: maintenance until 2027-04-30); dispatch says the same. */
const MIN_NODE_MAJOR = 22;
/** This file's directory (dispatch runs it by path; no __dirname, which an ES module lacks). */
const HERE = dirname(resolve(process.argv[1] ?? '.'));

function say(line: string): void {
  process.stderr.write(`vrf-host dispatch: ${line}\n`);
  syncRun({ argv: ['juju-log', '--log-level', 'ERROR', '--', `vrf-host dispatch: ${line}`] }, 10_000);
}

/**
 * The charm cannot run on this machine's Node: says why (stderr, juju-log), then, as ops does for a
 * blocked charm, a blocked status and exit 0, so that the unit is not stuck in error and the next
 * hook after Node is fixed just works. An action fails with the reason instead. stop and remove
 * exit 1: Juju then retries them once Node is fixed, rather than drop a unit whose VRFs are still up.
 */
function refuse(line: string, status: string): void {
  say(line);
  const path = process.env['JUJU_DISPATCH_PATH'] ?? '';
  if (/^(\.\/)?actions\//.test(path)) {
    syncRun({ argv: ['action-fail', status] }, 10_000);
    process.exitCode = 0;
    return;
  }
  syncRun({ argv: ['status-set', '--application=false', 'blocked', '--', status] }, 10_000);
  // The charm's memory of its last status is now wrong: the next full run must set its own.
  const memory = statusMemoryPath(process.env);
  if (memory !== null) rmSync(memory, { force: true });
  process.exitCode = /^(\.\/)?hooks\/(stop|remove)$/.test(path) ? 1 : 0;
}

function launch(): void {
  // First: an old Node must get this far (the bundle's syntax is lowered for it, and nothing
  // before this line needs more than Node 10's builtins).
  const major = Number(process.versions.node.split('.')[0]);
  if (!(major >= MIN_NODE_MAJOR)) {
    // dispatch says which node it picked (a wrapper script's path is not process.execPath).
    const node = process.env['VRF_HOST_DISPATCH_NODE'] || process.execPath;
    refuse(
      `no usable Node.js to run the charm: ${join(HERE, '..', 'bin/node')} is absent and no node >= ${MIN_NODE_MAJOR} is installed ` +
        `(found only: ${node} (v${process.versions.node})).` +
        ` Install nodejs >= ${MIN_NODE_MAJOR} on the machine, or redeploy a charm packed with Node` +
        ` (charmcraft pack, or npm run pack -- --bundle-node).`,
      `Node.js v${process.versions.node} is too old for vrf-host (needs >= ${MIN_NODE_MAJOR}):` +
        ` install nodejs >= ${MIN_NODE_MAJOR} or deploy the charm packed with Node`,
    );
    return;
  }
  if (!existsSync(join(HERE, 'vrf-host.cjs'))) {
    say(`cannot find ${join(HERE, 'vrf-host.cjs')}: the charm is incomplete (rebuild it with npm run build)`);
    process.exitCode = 1;
    return;
  }
  loadCharm();
}

/**
 * Runs dist/vrf-host.cjs like require() would, compiled from the code cache
 * `.vrf-host.BUILD.NODE.ARCH.v8cache` when there is one. V8 checks the cache
 * against its own version and flags and rejects a stale one; the name carries
 * the build, so another bundle never meets it. A missing or rejected cache is
 * (re)written when the hook ends, atomically; a read-only charm directory just
 * goes without.
 */
function loadCharm(): void {
  const file = join(HERE, 'vrf-host.cjs');
  const cacheName = `.vrf-host.${BUILD}.${process.version}.${process.arch}.v8cache`;
  const cacheFile = join(HERE, cacheName);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    ...(cachedData !== undefined ? { cachedData } : {}),
  });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // After the hook: the cache then also holds the functions it compiled lazily.
    process.once('beforeExit', () => writeCache(cacheFile, cacheName, () => script.createCachedData()));
  }
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, HERE);
}

function writeCache(path: string, name: string, data: () => Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data(), { mode: 0o644 });
    renameSync(tmp, path);
    // Caches of other builds or Nodes, and temporary files of interrupted writes, are litter now.
    for (const f of readdirSync(HERE))
      if (f !== name && /^\.vrf-host\..*\.v8cache(\.\d+\.tmp)?$/.test(f)) rmSync(join(HERE, f), { force: true });
  } catch {
    // a read-only charm directory (compile every time), or V8 could not serialise: the hook itself succeeded
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing to clean
    }
  }
}

try {
  launch();
} catch (e) {
  process.stderr.write(`vrf-host dispatch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
