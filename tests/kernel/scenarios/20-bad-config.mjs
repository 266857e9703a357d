// Scenario 10: the bad-config battery. After a good converge, every bad input of the engine issue
// that can be expressed as config, Juju state or host state is tried in turn with config-changed:
// the unit is blocked with a message naming the field, no ip command that changes the kernel is
// issued, the full host snapshot and vrf-host's files are unchanged (the last good state stays in
// place). Then the good config converges again with nothing to do, and traffic still flows.
// Host states that this kernel and iproute2 do not have (an iproute2 without -json, a kernel without
// the l3mdev sysctls, no vrf module) are emulated through VRF_HOST_IP / VRF_HOST_PROC /
// VRF_HOST_SYS + VRF_HOST_MODPROBE; the real missing-module case is scenario 03.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { networkGetFor, networksFor } from '../lib/charm.mjs';
import { ipBatch } from '../lib/exec.mjs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { controllerRow, inboundMatrix } from '../lib/matrix.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';
import { spaceOf } from '../lib/topology.mjs';

export const name = 'bad-config';
export const description =
  'every bad input after a good converge: blocked naming the field, nothing applied, snapshot unchanged';
export const needsCharm = true;
export const timeoutMs = 45 * 60_000;

const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
const FILES = [
  '/var/lib/vrf-host/state.json',
  '/etc/iproute2/rt_tables.d/vrf-host.conf',
  '/etc/sysctl.d/60-vrf-host.conf',
];
const SCRATCH = '/run/kernel-bad-config';
/** @param {unknown} o */
const y = (o) => YAML.stringify(o);

function fileHashes() {
  return FILES.map(
    (f) => `${f} ${existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16) : 'absent'}`,
  );
}

/**
 * @param {string} path
 * @param {string} text
 */
function writeExec(path, text) {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

/**
 * Each case: what to change (config, networks, env, host), the field the blocked message must
 * name (a regex on the status message), or `warnOnly` (stays active, logs a warning).
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {import('../lib/ipspy.mjs').IpSpy} spy
 */
function cases(topo, spy) {
  const s = { storage: spaceOf(topo, 'storage'), mgmt: spaceOf(topo, 'mgmt') };
  // an interface and addresses this machine does not have (members are found by address first)
  const missingIf = {
    ...s.storage,
    dev: 'ens9',
    unitAddr: '10.10.9.10',
    cidr: '10.10.9.0/24',
    unitAddr6: 'fd00:0:9::10',
    cidr6: 'fd00:0:9::/64',
  };
  const nets = networksFor(topo);
  return [
    { what: 'invalid YAML in vrfs', config: { vrfs: 'pub: {binding: public' }, expect: /^vrfs\b/ },
    { what: 'vrfs is not a mapping', config: { vrfs: '- public\n- storage\n' }, expect: /^vrfs\b.*mapping/ },
    {
      what: 'gateways entry without =',
      config: { gateways: `${GATEWAYS} public` },
      expect: /^gateways: entry "public"/,
    },
    {
      what: 'gateways entry with an invalid address',
      config: { gateways: 'public=300.1.1.1' },
      expect: /^gateways: entry "public=300\.1\.1\.1" is not an IP address/,
    },
    {
      what: 'gateways: a CIDR key with an address of the other family',
      config: { gateways: `${GATEWAYS} 10.10.4.0/24=fd00:0:2::1` },
      expect: /^gateways: .*different families/,
    },
    {
      what: 'gateways: a key twice for one family',
      config: { gateways: `${GATEWAYS} public=172.16.0.2` },
      expect: /^gateways: .*public already has an IPv4 gateway/,
    },
    { what: 'an unknown binding', config: { vrfs: y({ x: { binding: 'nosuch' } }) }, expect: /^vrfs: x\.binding\b/ },
    {
      what: 'a duplicate VRF name',
      config: { vrfs: 'a: {binding: public}\na: {binding: storage}\n' },
      expect: /^vrfs\b/,
    },
    {
      what: 'the same binding twice',
      config: { vrfs: y({ a: { binding: 'public' }, b: { binding: 'public' } }) },
      expect: /^vrfs: [ab]\.binding .*already the binding of/,
    },
    {
      what: 'a duplicate table',
      config: { vrfs: y({ a: { binding: 'public', table: 20 }, b: { binding: 'storage', table: 20 } }) },
      expect: /^vrfs: [ab]\.table 20 is already the table of/,
    },
    {
      what: 'a reserved table',
      config: { vrfs: y({ a: { binding: 'public', table: 254 } }) },
      expect: /^vrfs: a\.table 254 is reserved/,
    },
    {
      what: 'a table owned by something else on the host',
      host: {
        add: [['route', 'add', '10.77.0.0/24', 'via', s.mgmt.gateway, 'dev', s.mgmt.dev, 'table', '77']],
        del: [['route', 'del', '10.77.0.0/24', 'table', '77']],
      },
      config: { vrfs: y({ a: { binding: 'public', table: 77 } }) },
      expect: /^vrfs: a\.table 77 is in use on this host/,
    },
    { what: 'a table-range that is not MIN-MAX', config: { 'table-range': '5000-1001' }, expect: /^table-range\b/ },
    {
      what: 'a VRF name too long',
      config: { vrfs: y({ averyveryverylongname: { binding: 'public' } }) },
      expect: /^vrfs: averyveryverylongname\b/,
    },
    { what: 'a reserved VRF name', config: { vrfs: y({ main: { binding: 'public' } }) }, expect: /^vrfs: main\b/ },
    {
      what: 'a VRF name that is an existing non-VRF link',
      config: { vrfs: y({ ens4: { binding: 'public' } }) },
      expect: /^vrfs: ens4\b.*already exists/,
    },
    {
      what: 'a gateway outside the member subnets',
      config: { gateways: GATEWAYS.replace('public=172.16.0.1', 'public=10.99.0.1') },
      expect: /^(gateways|public)\b.*10\.99\.0\.1 is outside public's subnets/,
    },
    {
      what: 'two gateways of one family',
      config: { vrfs: y({ pub: { binding: 'public', gateway: ['172.16.0.1', '172.16.0.2'] } }) },
      expect: /^vrfs: pub\.gateway has more than one IPv4/,
    },
    {
      what: 'the same interface in two VRFs (tenant bound to the storage space too)',
      networks: { ...nets, tenant: nets.storage },
      config: { vrfs: y({ a: { binding: 'storage' }, b: { binding: 'tenant' } }) },
      expect: /^vrfs: [ab]\b.*bond0 would be in both a and b/,
    },
    {
      what: 'a binding with no interface on this machine (network-get reports ens9)',
      networks: { ...nets, storage: networkGetFor(missingIf, { ipv6: topo.ipv6 }) },
      expect: /^storage\b.*binding storage has no interface on this machine/,
    },
    {
      what: 'a space-routes entry that is not a CIDR',
      config: { 'space-routes': 'storage=10.30.0.0/99' },
      expect: /^space-routes: entry/,
    },
    {
      what: 'exclude-interfaces names a missing interface (a warning only)',
      config: { 'exclude-interfaces': 'ens99' },
      warnOnly: /exclude-interfaces: ens99 does not exist/,
    },
    {
      what: 'an iproute2 without -json (emulated: ip -V says iproute2-ss161212, -json is unknown)',
      env: () => ({
        VRF_HOST_IP: writeExec(
          `${SCRATCH}/old-ip`,
          `#!/bin/sh\ncase " $* " in\n  *" -V "*) echo "ip utility, iproute2-ss161212"; exit 0 ;;\n  *" -json "*|*" -j` +
            ` "*) echo 'Option "-json" is unknown, try "ip -help".' >&2; exit 255 ;;\nesac\nexec ${spy.path} "$@"\n`,
        ),
      }),
      expect: /^iproute2 4\.0 lacks -json.*needs iproute2 4\.18/,
    },
    {
      what: 'a kernel without the l3mdev sysctls (emulated: VRF_HOST_PROC of a 4.4 kernel)',
      env: () => {
        mkdirSync(`${SCRATCH}/proc/sys/kernel`, { recursive: true });
        writeFileSync(`${SCRATCH}/proc/sys/kernel/osrelease`, '4.4.0-old\n');
        return { VRF_HOST_PROC: `${SCRATCH}/proc` };
      },
      expect: /^kernel 4\.4\.0-old has no net\.ipv4\.tcp_l3mdev_accept.*Linux 4\.5/,
    },
    {
      what: 'no vrf kernel module and modprobe cannot load it (emulated: VRF_HOST_SYS without module/vrf)',
      env: () => {
        mkdirSync(`${SCRATCH}/sys/module`, { recursive: true });
        return {
          VRF_HOST_SYS: `${SCRATCH}/sys`,
          VRF_HOST_MODPROBE: writeExec(
            `${SCRATCH}/modprobe`,
            '#!/bin/sh\necho "modprobe: FATAL: Module vrf not found in directory /lib/modules/$(uname -r)" >&2\nexit 1\n',
          ),
        };
      },
      expect: /^no vrf kernel module: load it on the host \(modprobe vrf\)/,
    },
  ];
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const good = { gateways: GATEWAYS };
  const { topo, unit } = await deployMultiHomed(t, good, { fast: true });
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(SCRATCH, { recursive: true });
  t.defer(() => rmSync(SCRATCH, { recursive: true, force: true }));
  const spy = createIpSpy();
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const converged = snapshot(topo.unit);
  const files = fileHashes();
  const goodConfig = { ...unit.state.config };
  const goodNetworks = unit.state.networks;

  for (const c of cases(topo, spy)) {
    if (c.host) ipBatch(topo.unit, c.host.add);
    const before = c.host ? snapshot(topo.unit) : converged;
    if (c.config) unit.config(c.config);
    if (c.networks) unit.update((st) => ({ ...st, networks: c.networks }));
    spy.reset();
    const env = { VRF_HOST_IP: spy.path, ...(c.env ? c.env() : {}) };
    const r = await unit.hook('config-changed', { env });
    const st = r.record.status;
    const msg =
      `exit ${r.exitCode}, ${st.status}:` +
      ` ${st.message}${r.exitCode !== 0 ? ` | ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`;
    if (c.warnOnly) {
      t.check(`${c.what}: stays active`, r.exitCode === 0 && st.status === 'active', msg);
      const w = r.record.logs.find((l) => c.warnOnly.test(l.message));
      t.check(
        `${c.what}: warns in the log`,
        w !== undefined && w.level === 'WARNING',
        w ? `${w.level}: ${w.message}` : 'no such log line',
      );
    } else {
      t.check(
        `${c.what}: blocked, naming the field`,
        r.exitCode === 0 && st.status === 'blocked' && c.expect.test(st.message),
        msg,
      );
    }
    const changes = mutatingCalls(spy.calls());
    t.check(`${c.what}: no ip command changed the kernel`, changes.length === 0, changes.slice(0, 4).join(' | '));
    const diff = diffSnapshots(before, snapshot(topo.unit));
    t.check(`${c.what}: host snapshot unchanged`, diff.length === 0, diff.slice(0, 5).join(' | '));
    const f = fileHashes();
    t.check(
      `${c.what}: state.json, rt_tables.d and sysctl.d files unchanged`,
      JSON.stringify(f) === JSON.stringify(files),
      f.join(', '),
    );
    // back to the good inputs
    unit.update((st2) => ({ ...st2, config: { ...goodConfig }, networks: goodNetworks }));
    if (c.host) ipBatch(topo.unit, c.host.del);
  }

  spy.reset();
  const back = await hookOk(t, unit, 'config-changed', { env: { VRF_HOST_IP: spy.path } });
  t.check(
    'good config again: nothing to apply',
    mutatingCalls(spy.calls()).length === 0 && !back.record.statusHistory.some((x) => x.status === 'maintenance'),
    mutatingCalls(spy.calls()).slice(0, 4).join(' | '),
  );
  const diff = diffSnapshots(converged, snapshot(topo.unit));
  t.check('good config again: the snapshot is the converged one', diff.length === 0, diff.slice(0, 5).join(' | '));
  const inbound = await inboundMatrix(topo);
  for (const r of inbound.filter((x) => x.path !== 'same L2'))
    t.check(`after the battery: ${r.space} remote client answered by the unit's ${r.space} address`, r.ok, r.result);
  const ctl = await controllerRow(topo);
  t.check('after the battery: controller reachable', ctl.ok, ctl.result);
}
