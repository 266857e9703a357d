/**
 * What `dispatch` runs (bundled as dist/launch.cjs, CommonJS: Node loads it
 * ~5 ms faster than an ES module). Three jobs, cheapest first:
 *
 *  1. Refuse a Node.js older than 18 with a clear line on stderr and juju-log
 *     (dispatch no longer starts `node --version` for that: a whole process).
 *  2. update-status: replay the hook memo (src/ops/memo.ts). On a hit the
 *     hook is done: config-get, network-get and `ip -json` answered exactly
 *     as in the last full run that changed nothing, and its status is set
 *     again. The charm, zod, yaml and execa are never loaded.
 *  3. Otherwise load the charm (dist/vrf-host.cjs), which runs the hook in
 *     full and says in its DEBUG line why the memo missed. It is compiled
 *     with a V8 code cache kept next to it (what Node's own CommonJS loader
 *     does, plus cachedData; Node 22's module.enableCompileCache does the same
 *     natively): a 1.5 MB bundle otherwise costs 40–50 ms of compiling per
 *     hook here, seconds under qemu.
 */
import Module from 'node:module';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { BUILD, dispatchedHook, IP_JSON, MEMO_HOOKS, MEMO_MAX_AGE_MS, MISSED_KEY, memoPath } from './charm/memo.js';
import { replayMemo } from './ops/memo.js';
import * as zm from 'zod/mini';
import { lightRun } from './ops/runner.js';
import { stableIpJson } from './vrf/observe/stable.js';

const MIN_NODE_MAJOR = 18;

async function say(line: string): Promise<void> {
  process.stderr.write(`vrf-host dispatch: ${line}\n`);
  await lightRun({ argv: ['juju-log', '--log-level', 'ERROR', '--', `vrf-host dispatch: ${line}`] }, 10_000);
}

async function launch(): Promise<void> {
  // One record, parsed once: zod's JIT would compile a parser for it first (see src/main.ts).
  zm.config({ jitless: true });
  const major = Number(process.versions.node.split('.')[0]);
  if (!(major >= MIN_NODE_MAJOR)) {
    // dispatch says which node it picked (a wrapper script's path is not process.execPath).
    const node = process.env['VRF_HOST_DISPATCH_NODE'] || process.execPath;
    await say(
      `no usable Node.js to run the charm: ${join(__dirname, '..', 'bin/node')} is absent and no node >= ${MIN_NODE_MAJOR} is installed ` +
        `(found only: ${node} (v${process.versions.node})). Install nodejs >= ${MIN_NODE_MAJOR} on the machine, or redeploy a charm packed with Node (charmcraft pack, or npm run pack -- --bundle-node).`,
    );
    process.exitCode = 127;
    return;
  }
  const hook = dispatchedHook(process.env['JUJU_DISPATCH_PATH']);
  const path = hook !== null && MEMO_HOOKS.includes(hook) ? memoPath(process.env) : null;
  if (hook !== null && path !== null) {
    let reason: string;
    try {
      const r = await replayMemo(path, { build: BUILD, hook, env: process.env, maxAgeMs: MEMO_MAX_AGE_MS, run: (c) => lightRun(c), normalizers: { [IP_JSON]: stableIpJson } });
      if (r.hit) return;
      reason = r.reason;
    } catch (e) {
      reason = `replay failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    (globalThis as Record<symbol, unknown>)[MISSED_KEY] = reason;
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
  const file = join(__dirname, 'vrf-host.cjs');
  const cacheName = `.vrf-host.${BUILD}.${process.version}.${process.arch}.v8cache`;
  const cacheFile = join(__dirname, cacheName);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData !== undefined ? { cachedData } : {}) });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // After the hook: the cache then also holds the functions it compiled lazily.
    process.once('beforeExit', () => writeCache(cacheFile, cacheName, script.createCachedData()));
  }
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);
}

function writeCache(path: string, name: string, data: Buffer): void {
  try {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, path);
    // Caches of other builds or Nodes are litter now.
    for (const f of readdirSync(__dirname)) if (f !== name && /^\.vrf-host\..*\.v8cache$/.test(f)) rmSync(join(__dirname, f), { force: true });
  } catch {
    // a read-only charm directory: compile every time
  }
}

launch().catch((e: unknown) => {
  process.stderr.write(`vrf-host dispatch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
