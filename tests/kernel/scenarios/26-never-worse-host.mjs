// Never worse, on a host that forwards and filters: a "container" (a namespace behind a veth, the
// way Docker and pod networks attach) is reached through a DNAT rule on bond0 (storage's member),
// with IPv4 forwarding on; and an INPUT rule drops `-i bond0` port 7001. Real traffic from
// storage's same-subnet peer, before install, with the VRFs, and after teardown:
// - install and config-changed see the forwarding and apply nothing (blocked, naming the veth and
//   allow-forwarding); the kernel is as before and both rules still act as before;
// - show-vrfs names the forwarding (the route to the veth, the DNAT rule) and the rules that name
//   bond0 by interface;
// - with allow-forwarding=true the VRFs are built: the DNAT'd connection is dropped (looked up in
//   storage's table, which has no route to the container: the limit README states), and the
//   `-i bond0` DROP rule no longer matches (netfilter sees `storage` for bond0's incoming
//   traffic); the same rule written for `-i storage` drops it again;
// - stop + remove give back the kernel of before, and both rules act as before.
import { ipBatch, nsRun, run as sh } from '../lib/exec.mjs';
import { probe, startServer } from '../lib/probes.mjs';
import { deployMultiHomed, hookOk, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { snapshot } from '../lib/snapshot.mjs';
import { spaceOf } from '../lib/topology.mjs';

export const name = 'never-worse-host';
export const description =
  'forwarding (DNAT to a local veth) and a firewall rule on a member: detected before anything is' +
  ' applied, and real traffic before install, with the VRFs and after teardown';
export const needsCharm = true;
export const timeoutMs = 10 * 60_000;

const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
const CTR = 'ctr26';
const CTR_ADDR = '10.99.0.2';
const DNAT_PORT = 8080;
const FW_PORT = 7001;

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  for (const tool of ['iptables', 'iptables-save', 'nft']) {
    const r = sh(['sh', '-c', `command -v ${tool}`], { allowFail: true });
    t.check(`${tool} is installed`, r.code === 0, r.stderr);
    if (r.code !== 0) return;
  }
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS });
  const storage = spaceOf(topo, 'storage');
  const u = topo.unit;

  // The container: its own namespace behind veth-ctr, reached through the unit, which forwards.
  sh(['ip', 'netns', 'add', CTR]);
  t.defer(() => sh(['ip', 'netns', 'del', CTR], { allowFail: true }));
  ipBatch(u, [['link', 'add', 'veth-ctr', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CTR]]);
  ipBatch(u, [
    ['addr', 'add', '10.99.0.1/24', 'dev', 'veth-ctr'],
    ['link', 'set', 'veth-ctr', 'up'],
  ]);
  ipBatch(CTR, [
    ['addr', 'add', `${CTR_ADDR}/24`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['link', 'set', 'lo', 'up'],
    ['route', 'add', 'default', 'via', '10.99.0.1'],
  ]);
  nsRun(u, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const ipt = (/** @type {string[]} */ ...args) => nsRun(u, ['iptables', '-w', ...args]);
  ipt(
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-i',
    'bond0',
    '-p',
    'tcp',
    '--dport',
    String(DNAT_PORT),
    '-j',
    'DNAT',
    '--to-destination',
    `${CTR_ADDR}:${DNAT_PORT}`,
  );
  ipt('-A', 'INPUT', '-i', 'bond0', '-p', 'tcp', '--dport', String(FW_PORT), '-j', 'DROP');
  const ctr = await startServer({ ns: CTR, name: 'container', port: DNAT_PORT });
  const svc = await startServer({ ns: u, name: 'unit-7001', port: FW_PORT });
  t.defer(async () => {
    await ctr.stop();
    await svc.stop();
  });

  /** @param {string} label */
  const traffic = (label) => {
    const dnat = probe({ ns: storage.lanNs, target: storage.unitAddr, port: DNAT_PORT, timeoutMs: 3000 });
    const fw = probe({ ns: storage.lanNs, target: storage.unitAddr, port: FW_PORT, timeoutMs: 3000, attempts: 1 });
    t.note(
      `${label}: DNAT ${dnat.ok ? `answered by ${dnat.answeredBy}` : dnat.error}; port ${FW_PORT} ${fw.ok ? 'answered' : fw.error}`,
    );
    return { dnat: dnat.ok && dnat.answeredBy === 'container', fw: fw.ok };
  };
  const before = snapshot(u);
  const t0 = traffic('before install');
  t.check(
    'before install: the DNAT to the container answers, the -i bond0 DROP rule drops port 7001',
    t0.dnat && !t0.fw,
    JSON.stringify(t0),
  );

  for (const hook of ['install', 'config-changed']) {
    const r = await unit.hook(hook);
    const st = r.record.status;
    t.check(
      `${hook}: blocked, naming the veth and allow-forwarding`,
      r.exitCode === 0 && st.status === 'blocked' && /veth-ctr/.test(st.message) && /allow-forwarding/.test(st.message),
      `exit ${r.exitCode}, ${st.status}: ${st.message}`,
    );
  }
  snapshotIsBack(t, u, before, 'blocked: nothing was applied (the snapshot equals the one before install)');
  const t1 = traffic('blocked');
  t.check('blocked: both rules act as before', t1.dnat && !t1.fw, JSON.stringify(t1));

  const show = (await unit.action('show-vrfs')).record.actionResults;
  t.check(
    'show-vrfs names the forwarding: the route to veth-ctr and the DNAT rule',
    /10\.99\.0\.0\/24 dev veth-ctr \(veth\)/.test(show.forwarding ?? '') && /DNAT/.test(show.forwarding ?? ''),
    show.forwarding,
  );
  t.check(
    'show-vrfs names the rules that name bond0 by interface, with its VRF',
    /INPUT names bond0 \(in VRF storage/.test(show.firewall ?? '') &&
      /PREROUTING names bond0/.test(show.firewall ?? ''),
    show.firewall,
  );

  unit.config({ 'allow-forwarding': true });
  await hookOk(t, unit, 'config-changed');
  const t2 = traffic('VRFs built (allow-forwarding)');
  t.check(
    "with the VRFs: the DNAT'd connection is dropped (storage's table has no route to the container)",
    !t2.dnat,
    JSON.stringify(t2),
  );
  t.check(
    'with the VRFs: the -i bond0 DROP rule no longer matches (netfilter sees storage)',
    t2.fw,
    JSON.stringify(t2),
  );
  ipt('-I', 'INPUT', '-i', 'storage', '-p', 'tcp', '--dport', String(FW_PORT), '-j', 'DROP');
  const t3 = traffic('the rule written for -i storage');
  t.check('the same rule written for -i storage drops port 7001 again', !t3.fw, JSON.stringify(t3));
  ipt('-D', 'INPUT', '-i', 'storage', '-p', 'tcp', '--dport', String(FW_PORT), '-j', 'DROP');

  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(t, u, before, 'after stop + remove the snapshot equals the one before install');
  const t4 = traffic('after teardown');
  t.check(
    'after teardown: the DNAT answers again and the -i bond0 rule drops again',
    t4.dnat && !t4.fw,
    JSON.stringify(t4),
  );
}
