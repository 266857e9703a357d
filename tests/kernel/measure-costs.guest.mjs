// Measures the suite's unit costs on this kernel (run: node tests/kernel/measure-costs.mjs).
import { run, nsRun } from './lib/exec.mjs';
import { probeOnce, startServer, probe } from './lib/probes.mjs';
import { buildTopology, controllerOf, destroyTopology, spaceOf, waitReady } from './lib/topology.mjs';

/** @param {readonly number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
/**
 * @param {string} label
 * @param {number} n
 * @param {() => unknown} fn
 */
function time(label, n, fn) {
  /** @type {number[]} */
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(
    `${label.padEnd(48)} median ${median(xs).toFixed(0).padStart(6)} ms  (n=${n}, min ${Math.min(...xs).toFixed(0)}, max` +
      ` ${Math.max(...xs).toFixed(0)})`,
  );
}
console.log(`uptime at start: ${run(['cat', '/proc/uptime']).stdout.split(' ')[0]} s`);
time('node -e 0', 5, () => run([process.execPath, '-e', '0']));
time('true', 5, () => run(['true']));
time('ip link show', 5, () => run(['ip', 'link', 'show']));
let t = Date.now();
const topo = buildTopology();
console.log(`${'buildTopology (scenario 1)'.padEnd(48)} ${Date.now() - t} ms`);
t = Date.now();
await waitReady(topo);
console.log(`${'waitReady'.padEnd(48)} ${Date.now() - t} ms`);
time('ip netns exec unit true', 5, () => nsRun('unit', ['true']));
time('ip netns exec unit node -e 0', 5, () => nsRun('unit', [process.execPath, '-e', '0']));
time('ip -n unit -json -details link show', 5, () => run(['ip', '-n', 'unit', '-json', '-details', 'link', 'show']));
time('ping -c1 gateway from unit', 5, () => nsRun('unit', ['ping', '-c1', '-W1', spaceOf(topo, 'mgmt').gateway]));
t = Date.now();
const srv = await startServer({ ns: 'unit', name: 'unit' });
console.log(`${'startServer (socat in netns, until listening)'.padEnd(48)} ${Date.now() - t} ms`);
time('probe TCP from rp-mgmt (answered)', 5, () =>
  probe({ ns: 'rp-mgmt', target: spaceOf(topo, 'mgmt').unitAddr, port: srv.port }),
);
time('probe TCP from rp-public (fails: timeout)', 1, () =>
  probe({ ns: 'rp-public', target: spaceOf(topo, 'public').unitAddr, port: srv.port, timeoutMs: 3000 }),
);
await srv.stop();
t = Date.now();
await probeOnce({ server: { ns: 'ctl' }, client: { ns: 'unit', target: controllerOf(topo).addr } });
console.log(`${'probeOnce (server start + probe + stop)'.padEnd(48)} ${Date.now() - t} ms`);
if (process.argv.includes('--charm')) {
  const { CharmUnit, networksFor } = await import('./lib/charm.mjs');
  const unit = new CharmUnit({
    ns: 'unit',
    state: { config: {}, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
  });
  for (const hook of ['install', 'update-status', 'update-status']) {
    const r = await unit.hook(hook);
    /** @type {Record<string, number>} */
    const tools = {};
    for (const c of r.record.calls) tools[c.tool] = (tools[c.tool] ?? 0) + 1;
    console.log(
      `${`hook ${hook} (dispatch in netns)`.padEnd(48)} ${r.ms} ms, exit ${r.exitCode}, ${r.record.status.status}:` +
        ` ${r.record.status.message.slice(0, 80)}; tools ${JSON.stringify(tools)}`,
    );
  }
  time('one hook tool: config-get (node)', 3, () =>
    nsRun('unit', [`${unit.simDir}/bin/config-get`, '--format=json'], {
      env: { OPS_SIM_STATE: `${unit.simDir}/state.json`, OPS_SIM_JOURNAL: `${unit.simDir}/journal.jsonl` },
    }),
  );
}
t = Date.now();
destroyTopology(topo);
console.log(`${'destroyTopology'.padEnd(48)} ${Date.now() - t} ms`);
