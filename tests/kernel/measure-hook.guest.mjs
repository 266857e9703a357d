// Where one charm hook's time goes in the guest (run: node tests/kernel/measure-hook.mjs).
// For install, config-changed and update-status, in the simulator's normal and fast modes:
//   - the wrapper process (ip netns exec unit node dispatch-in-ns): Node start until its first line,
//     importing the simulator bundle, createSimulator, runDispatch, total;
//   - inside runDispatch, every ip call of the charm (a timing wrapper as VRF_HOST_IP);
//   - the charm's own Node process profiled with --cpu-prof (written to $VRF_HOST_RESULTS/prof-*),
//     summarised on the host by measure-hook.mjs.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (process.argv[2] === '--child') {
  const t0 = performance.now(); // ms since this process started: Node's own start-up
  /** @type {{ harness: string, simDir: string, state: object, fast?: boolean, charmDir: string,
   *   dispatchPath: string, env?: Record<string, string> }} the request measure-hook.guest.mjs wrote below */
  const req = JSON.parse(process.argv[3] ?? '');
  /** @type {typeof import('../../src/ops/testing/simulator/harness.js')} */
  const harness = await import(pathToFileURL(req.harness).href);
  const { createSimulator, runDispatch } = harness;
  const t1 = performance.now();
  const sim = await createSimulator({ dir: req.simDir, state: req.state, fast: req.fast === true });
  const t2 = performance.now();
  const res = await runDispatch(req.charmDir, req.dispatchPath, sim, { env: req.env ?? {}, timeout: 180_000 });
  const t3 = performance.now();
  process.stdout.write(
    `${JSON.stringify({
      exitCode: res.exitCode,
      stderr: res.stderr,
      state: sim.state(),
      record: res.record,
      ms: { nodeStart: t0, importHarness: t1 - t0, createSimulator: t2 - t1, runDispatch: t3 - t2, total: t3 },
    })}\n`,
  );
  process.exit(0);
}

const { run, nsRun } = await import('./lib/exec.mjs');
const { CharmUnit, HARNESS, networksFor } = await import('./lib/charm.mjs');
const { buildTopology, controllerOf, destroyTopology, waitReady } = await import('./lib/topology.mjs');
const { resetUnitFiles } = await import('./lib/snapshot.mjs');
const SELF = fileURLToPath(import.meta.url);
const RESULTS = process.env.VRF_HOST_RESULTS ?? '/tmp';
const IPLOG = '/run/measure-hook-ip.log';
const IPWRAP = '/run/measure-hook-ip';
writeFileSync(
  IPWRAP,
  `#!/bin/sh\ns=$(date +%s%N)\n/usr/bin/ip "$@"\nrc=$?\ne=$(date +%s%N)\necho "$s $e $rc $*" >> ${IPLOG}\nexit $rc\n`,
);
chmodSync(IPWRAP, 0o755);
// --cpu-prof is not allowed in NODE_OPTIONS (Node 20): a `node` first on the charm's PATH adds it.
const NODEBIN = '/run/measure-hook-node';
mkdirSync(NODEBIN, { recursive: true });
/** @param {string} dir */
const profiledNode = (dir) => {
  writeFileSync(
    path.join(NODEBIN, 'node'),
    `#!/bin/sh\nexec ${process.execPath} --cpu-prof --cpu-prof-dir=${dir} "$@"\n`,
  );
  chmodSync(path.join(NODEBIN, 'node'), 0o755);
};

/**
 * @param {string} label
 * @param {number} n
 * @param {readonly string[]} argv
 */
function timeIt(label, n, argv) {
  /** @type {number[]} */
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(run(argv, { allowFail: true }).ms);
  xs.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(52)} median ${String(xs[Math.floor(n / 2)]).padStart(6)} ms (n=${n}, min ${xs[0]}, max ${xs.at(-1)})`,
  );
}

console.log(
  `uptime ${readFileSync('/proc/uptime', 'utf8').split(' ')[0]} s, loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
resetUnitFiles();
const topo = buildTopology();
await waitReady(topo);
timeIt('ip netns exec unit true', 3, ['ip', 'netns', 'exec', 'unit', 'true']);
timeIt('ip netns exec unit node -e 0', 3, ['ip', 'netns', 'exec', 'unit', process.execPath, '-e', '0']);
timeIt('node --version (dispatch checks it)', 3, [process.execPath, '--version']);
timeIt(`node -e import(simulator bundle)`, 3, [
  process.execPath,
  '-e',
  `import(${JSON.stringify(pathToFileURL(HARNESS).href)})`,
]);

const gateways =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
const modes = (process.env.VRF_HOST_MEASURE_MODES ?? 'normal,fast').split(',');
for (const mode of modes) {
  resetUnitFiles();
  destroyTopology(topo);
  buildTopology();
  await waitReady(topo);
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config: { gateways }, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
    fast: mode === 'fast',
  });
  for (const hook of ['install', 'config-changed', 'update-status']) {
    const profDir = path.join(RESULTS, `prof-${mode}-${hook}`);
    mkdirSync(profDir, { recursive: true });
    rmSync(IPLOG, { force: true });
    profiledNode(profDir);
    const req = {
      harness: HARNESS,
      charmDir: unit.charmDir,
      simDir: unit.simDir,
      state: unit.state,
      dispatchPath: `hooks/${hook}`,
      fast: unit.fast,
      env: { ...unit.env, VRF_HOST_IP: IPWRAP, PATH: `${NODEBIN}:${process.env.PATH}` },
    };
    const t0 = Date.now();
    const r = spawnSync('ip', ['netns', 'exec', topo.unit, process.execPath, SELF, '--child', JSON.stringify(req)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const wall = Date.now() - t0;
    const line = (r.stdout ?? '').trim().split('\n').at(-1) ?? '';
    let res;
    try {
      res = JSON.parse(line);
    } catch {
      console.log(`${mode} ${hook}: child failed (exit ${r.status}): ${r.stderr}`);
      continue;
    }
    unit.state = { ...res.state, action: null, stored: res.record.stored, status: { ...res.record.status, data: {} } };
    const ipLines = (() => {
      try {
        return readFileSync(IPLOG, 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    })();
    const ipMs = ipLines.map((l) => (Number(l.split(' ')[1]) - Number(l.split(' ')[0])) / 1e6);
    /** @type {Record<string, number>} */
    const tools = {};
    for (const c of res.record.calls) tools[c.tool] = (tools[c.tool] ?? 0) + 1;
    /** @param {number} x */
    const f = (x) => Math.round(x);
    console.log(
      `${mode.padEnd(6)} ${hook.padEnd(14)} wall ${wall} ms; wrapper node start ${f(res.ms.nodeStart)}, import sim` +
        ` ${f(res.ms.importHarness)}, createSimulator ${f(res.ms.createSimulator)}, runDispatch ${f(res.ms.runDispatch)}; ip:` +
        ` ${ipLines.length} calls, ${f(ipMs.reduce((a, b) => a + b, 0))} ms; exit ${res.exitCode}` +
        ` ${res.record.status.status}; tools ${JSON.stringify(tools)}`,
    );
    for (const l of ipLines) {
      const [s, e, rc, ...args] = l.split(' ');
      console.log(`    ip ${f((Number(e) - Number(s)) / 1e6)} ms rc ${rc}: ${args.join(' ').slice(0, 100)}`);
    }
    writeFileSync(path.join(profDir, 'timing.json'), JSON.stringify({ wall, ms: res.ms, ip: ipMs, tools }));
  }
}
destroyTopology(topo);
resetUnitFiles();
nsRun(null, ['true']);
