// Scenario 11: the controller guard. The mgmt role is bound explicitly to the mgmt space (ens3,
// the only path to the Juju controller) and the default binding is elsewhere (public), so that
// mgmt is a real VRF candidate in automatic mode; then explicit `vrfs` mode asks for a mgmt VRF
// outright. Either way ens3 is never enslaved (no ip command touching it is ever issued), the status
// and show-vrfs report mgmt in main (controller path), and a ping running from the default VRF to
// the controller all along loses nothing.
import YAML from 'yaml';
import { networksFor } from '../lib/charm.mjs';
import { inNs, ipJson, startBackground } from '../lib/exec.mjs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { controllerRow, inboundMatrix, printable } from '../lib/matrix.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { controllerOf } from '../lib/topology.mjs';

export const name = 'controller-guard';
export const description =
  'mgmt bound explicitly (auto and explicit vrfs mode): the controller interface is never enslaved';
export const needsCharm = true;
export const timeoutMs = 20 * 60_000;

const GATEWAYS = 'storage=10.10.4.1 storage-cluster=10.10.5.1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
const VRFS = {
  mgmt: { binding: 'mgmt', gateway: '10.0.0.1' },
  pub: { binding: 'public', gateway: ['172.16.0.1', 'fd00:0:1::1'] },
  stor: { binding: 'storage', gateway: ['10.10.4.1', 'fd00:0:2::1'] },
};

/**
 * ping -O from the unit's default VRF to the controller, for the whole scenario.
 * @param {import('../lib/topology.mjs').Topology} topo
 */
function startControllerPing(topo) {
  const ctl = controllerOf(topo).addr;
  const h = startBackground(inNs(topo.unit, ['ping', '-n', '-O', '-i', '0.5', '-W', '1', ctl]));
  return {
    async stop() {
      await h.stop();
      const out = h.output();
      const answered = new Set([...out.matchAll(/icmp_seq=(\d+) ttl=/g)].map((m) => Number(m[1])));
      const sent = Math.max(0, ...[...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
      // the last two may still have been in flight when ping was stopped
      /** @type {number[]} */
      const lost = [];
      for (let i = 1; i <= sent - 2; i++) if (!answered.has(i)) lost.push(i);
      return { sent, answered: answered.size, lost };
    },
  };
}

/**
 * @param {import('../lib/context.mjs').Context} t
 * @param {string} label
 * @param {import('../lib/ipspy.mjs').IpSpy} spy
 */
function noEns3(t, label, spy) {
  const touching = mutatingCalls(spy.calls()).filter((l) => /\bens3\b/.test(l));
  t.check(`${label}: no ip command touched ens3`, touching.length === 0, touching.slice(0, 4).join(' | '));
  const l = ipJson('unit', 'link', 'show', 'dev', 'ens3')[0];
  t.check(`${label}: ens3 is not enslaved`, l && l.master === undefined, `master ${l?.master ?? 'none'}`);
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS }, { fast: true });
  // Default binding on public; mgmt bound explicitly to the mgmt space; unbound roles follow the default.
  const nets = networksFor(topo);
  const publicNet = nets.public;
  if (!publicNet) throw new Error('networksFor gives no public binding');
  for (const b of ['juju-info', 'internal', 'admin', 'tenant']) nets[b] = publicNet;
  unit.update((s) => ({ ...s, networks: nets }));
  const pinger = startControllerPing(topo);
  let pingStopped = false;
  t.defer(async () => {
    if (!pingStopped) await pinger.stop();
  });
  const spy = createIpSpy();
  const env = { VRF_HOST_IP: spy.path };

  // Automatic mode.
  for (const hook of ['install', 'config-changed']) {
    spy.reset();
    const r = await hookOk(t, unit, hook, { env });
    t.check(
      `auto ${hook}: status reports mgmt in main (controller path)`,
      /mgmt in main \(controller path\)/.test(r.record.status.message),
      r.record.status.message,
    );
    noEns3(t, `auto ${hook}`, spy);
  }
  const vrfsAuto = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'auto: VRFs storage and storage-cluster, no mgmt VRF (public is the default binding)',
    vrfsAuto.join(' ') === 'storage storage-cluster',
    vrfsAuto.join(' '),
  );
  const show = await unit.action('show-vrfs');
  const res = show.record.actionResults;
  t.check(
    'auto: show-vrfs reports mgmt in main, reason controller-path, on ens3',
    res['in-main.mgmt.reason'] === 'controller-path' && /ens3/.test(res['in-main.mgmt.interfaces'] ?? ''),
    JSON.stringify(Object.fromEntries(Object.entries(res).filter(([k]) => k.startsWith('in-main')))),
  );
  const ctlA = await controllerRow(topo);
  t.check('auto: controller reachable (TCP) from the default VRF', ctlA.ok, ctlA.result);
  const inA = await inboundMatrix(topo);
  for (const r of inA.filter((x) => x.path !== 'same L2' && x.space.startsWith('storage')))
    t.check(`auto: ${r.space} remote client answered`, r.ok, r.result);

  // Explicit mode: a mgmt VRF asked for by name.
  unit.config({ vrfs: YAML.stringify(VRFS), gateways: '' });
  spy.reset();
  const r = await hookOk(t, unit, 'config-changed', { env });
  t.check(
    'explicit: status reports mgmt in main (controller path)',
    /mgmt in main \(controller path\)/.test(r.record.status.message),
    r.record.status.message,
  );
  t.check(
    'explicit: the log warns that mgmt carries the controller path',
    r.record.logs.some((l) => /binding mgmt carries the path to the controller/.test(l.message)),
    r.record.logs
      .filter((l) => l.level !== 'DEBUG')
      .map((l) => l.message.split('\n')[0])
      .join(' | '),
  );
  noEns3(t, 'explicit config-changed', spy);
  spy.reset();
  await hookOk(t, unit, 'update-status', { env });
  noEns3(t, 'explicit update-status', spy);
  const vrfsX = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'explicit: VRFs pub and stor only (no mgmt; the automatic ones removed)',
    vrfsX.join(' ') === 'pub stor',
    vrfsX.join(' '),
  );
  const showX = await unit.action('show-vrfs');
  t.check(
    'explicit: show-vrfs reports mgmt in main, reason controller-path',
    showX.record.actionResults['in-main.mgmt.reason'] === 'controller-path',
    showX.record.actionResults.summary,
  );
  const inX = await inboundMatrix(topo);
  t.table('explicit: inbound TCP to a 0.0.0.0 service on the unit', printable(inX));
  for (const x of inX.filter((y) => y.path !== 'same L2' && ['public', 'storage', 'mgmt'].includes(y.space)))
    t.check(`explicit: ${x.space} remote client answered`, x.ok, x.result);
  const ctlX = await controllerRow(topo);
  t.check('explicit: controller reachable (TCP) from the default VRF', ctlX.ok, ctlX.result);

  pingStopped = true;
  const p = await pinger.stop();
  t.check(
    'the controller answered every ping during all hooks (auto, switch to explicit, update-status)',
    p.sent > 10 && p.lost.length === 0,
    `${p.answered}/${p.sent} answered${p.lost.length ? `, lost icmp_seq ${p.lost.slice(0, 10).join(',')}` : ''}`,
  );
}
