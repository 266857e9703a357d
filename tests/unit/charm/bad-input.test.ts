/**
 * Bad input: each gets Blocked with the first problem (naming the option and
 * entry, and how to fix it), nothing is applied, and the last good state stays.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { State } from '../../../src/ops/testing/index.js';
import { PATHS } from '../../../src/vrf/persist.js';
import { BASE, context, freshFakeHost, PINNED, net, NETWORKS } from './helpers.js';

const fh = freshFakeHost();

interface Case {
  readonly name: string;
  readonly config?: Record<string, string | boolean>;
  readonly networks?: State['networks'];
  readonly status: RegExp | string;
}

const CASES: Case[] = [
  {
    name: 'invalid YAML in vrfs',
    config: { vrfs: 'storacc: {binding: storage' },
    status: /^vrfs: .*(YAML|yaml|flow|collection)/,
  },
  { name: 'vrfs that is not a mapping', config: { vrfs: '- storage' }, status: /^vrfs: / },
  {
    name: 'invalid gateways entry',
    config: { gateways: 'public=300.1.1.1' },
    status: /^gateways: entry "public=300\.1\.1\.1" .*IP address/,
  },
  { name: 'gateways that is not KEY=ADDRESS', config: { gateways: 'public' }, status: /^gateways: entry "public"/ },
  {
    name: 'an unknown binding',
    config: { vrfs: 'storacc: {binding: nope}' },
    status:
      'vrfs: storacc.binding "nope" is not a binding of this unit (bindings: admin, internal, juju-info, mgmt, public,' +
      ' storage, storage-cluster, tenant)',
  },
  {
    name: 'duplicate VRF names',
    config: { vrfs: 'a: {binding: storage}\na: {binding: public}' },
    status: /^vrfs: .*(unique|duplicate)/i,
  },
  {
    name: 'duplicate tables',
    config: { vrfs: 'a: {binding: storage, table: 20}\nb: {binding: public, table: 20}' },
    status: 'vrfs: b.table 20 is already the table of a',
  },
  {
    name: 'a reserved table',
    config: { vrfs: 'storacc: {binding: storage, table: 254}' },
    status: 'vrfs: storacc.table 254 is reserved',
  },
  {
    name: 'a foreign-owned table (MAAS table 2)',
    config: { vrfs: 'storacc: {binding: storage, table: 2}' },
    status: /^vrfs: storacc\.table 2 is in use on this host/,
  },
  {
    name: 'a VRF name too long',
    config: { vrfs: 'storage-replication: {binding: storage}' },
    status: /^vrfs: storage-replication.*(15|long)/,
  },
  {
    name: 'a VRF name colliding with a link',
    config: { vrfs: 'ens5: {binding: storage}' },
    status: 'vrfs: ens5: a link named ens5 already exists and is a veth device, not a VRF',
  },
  {
    name: 'a gateway outside the subnet',
    config: { gateways: 'storage=10.99.0.1' },
    status: `gateways: entry "storage=10.99.0.1": 10.99.0.1 is outside storage's subnets (10.10.4.0/24)`,
  },
  {
    name: 'a gateway of the wrong family',
    config: { vrfs: 'storacc: {binding: storage-cluster, gateway: "2001:db8:5::1"}' },
    status: /^vrfs: storacc/,
  },
  { name: 'a bad table-range', config: { 'table-range': '5000-1001' }, status: /^table-range: / },
  { name: 'a bad space-routes entry', config: { 'space-routes': 'storage=10.30.0.0/33' }, status: /^space-routes: / },
  {
    name: 'the same interface in two VRFs',
    config: { vrfs: 'a: {binding: storage}\nb: {binding: storage-cluster}' },
    networks: { ...NETWORKS, 'storage-cluster': net('bond0', ['10.10.4.11', '10.10.4.0/24']) },
    status: 'vrfs: b: bond0 would be in both a and b; an interface belongs to at most one VRF',
  },
  {
    name: 'a binding with no interface on this machine',
    config: { vrfs: 'storacc: {binding: storage}' },
    networks: { ...NETWORKS, storage: net('bond9', ['10.10.9.10', '10.10.9.0/24']) },
    status: 'vrfs: storacc: binding storage has no interface on this machine (network-get reports bond9 (10.10.9.10))',
  },
];

describe('bad config on a fresh host: Blocked, nothing applied, nothing written', () => {
  test.each(CASES)('$name', async (c) => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.configChanged(), {
      config: { ...PINNED, ...c.config },
      networks: c.networks ?? NETWORKS,
    });
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus?.name).toBe('blocked');
    if (typeof c.status === 'string') expect(out.unitStatus?.message).toBe(c.status);
    else expect(out.unitStatus?.message).toMatch(c.status);
    expect(fh.host.batches()).toEqual([]);
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('0');
    await expect(readFile(join(fh.host.root, PATHS.state), 'utf8')).rejects.toThrow(/ENOENT/);
    // Every problem is in the log; the status holds the first.
    expect(
      ctx.jujuLog.some(
        (l) =>
          l.level === 'ERROR' &&
          out.unitStatus !== undefined &&
          out.unitStatus.message.startsWith(l.message.slice(0, 20)),
      ),
    ).toBe(true);
  });
});

describe('bad config on a converged host: the last good state stays', () => {
  test.each(CASES.filter((c) => !c.networks))('$name', async (c) => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.install(), BASE);
    const state = await readFile(join(fh.host.root, PATHS.state), 'utf8');
    const host = fh.host.current();
    const batches = fh.host.batches().length;
    const out = await ctx.run(ctx.on.configChanged(), { ...BASE, config: { ...PINNED, ...c.config } });
    expect(out.unitStatus?.name).toBe('blocked');
    expect(fh.host.batches().length).toBe(batches);
    expect(fh.host.current()).toBe(host);
    expect(await readFile(join(fh.host.root, PATHS.state), 'utf8')).toBe(state);
    // update-status does not heal towards a bad config either; it stays blocked.
    const again = await ctx.run(ctx.on.updateStatus(), { ...BASE, config: { ...PINNED, ...c.config } });
    expect(again.unitStatus).toEqual(out.unitStatus);
    expect(fh.host.batches().length).toBe(batches);
  });
});

describe('the host cannot do VRFs', () => {
  test('no vrf kernel module: Blocked telling the operator to load it on the host; nothing applied', async () => {
    await fh.host.setVrfModule(false);
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), BASE);
    expect(out.unitStatus?.name).toBe('blocked');
    expect(out.unitStatus?.message).toMatch(/^no vrf kernel module: load it on the host \(modprobe vrf\)/);
    expect(fh.host.calls.some((c) => c.file === 'fake-modprobe' && c.args.join(' ') === 'vrf')).toBe(true);
    expect(fh.host.batches()).toEqual([]);
  });

  test('in a container: the message says a container cannot load modules', async () => {
    await fh.host.setVrfModule(false);
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(fh.host.root, 'run/systemd'), { recursive: true });
    await writeFile(join(fh.host.root, 'run/systemd/container'), 'lxc\n');
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), BASE);
    expect(out.unitStatus).toEqual({
      name: 'blocked',
      message: 'no vrf kernel module: load it on the host (modprobe vrf); a container cannot load modules',
    });
    expect(fh.host.calls.some((c) => c.file === 'fake-modprobe')).toBe(false);
  });

  test('a kernel without the l3mdev sysctls names the version needed', async () => {
    const { rm } = await import('node:fs/promises');
    await rm(join(fh.host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'));
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), BASE);
    expect(out.unitStatus?.name).toBe('blocked');
    expect(out.unitStatus?.message).toMatch(/net\.ipv4\.tcp_l3mdev_accept.*Linux 4\.5 or newer/);
  });

  test('a missing gateway is Blocked with the fix: nothing is applied for that space, the others converge', async () => {
    // No MAAS table for the public space: nothing says where its IPv4 router is.
    fh.host.mutate((h) => ({
      ...h,
      routes: h.routes.filter((r) => r.table !== 1),
      rules: h.rules.filter((r) => r.table !== 1),
    }));
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), { config: {}, networks: NETWORKS });
    expect(out.unitStatus).toEqual({
      name: 'blocked',
      message: 'public: no gateway found for 172.16.0.0/24; set config gateways',
    });
    const links = fh.host.current().links;
    expect(links.find((l) => l.name === 'br-ens4')?.master).toBeNull();
    expect(links.some((l) => l.name === 'public')).toBe(false);
    expect(links.find((l) => l.name === 'bond0')?.master).toBe('storage');
  });
});

describe('apply failure in a hook', () => {
  test('Blocked with the failing step and its error; the next hook converges from there', async () => {
    fh.host.failOn(/master storage$/, 'RTNETLINK answers: Operation not supported');
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), BASE);
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus?.name).toBe('blocked');
    expect(out.unitStatus?.message).toMatch(
      /^apply failed at step \d+\/\d+ `ip link set dev bond0 master storage`: RTNETLINK answers: Operation not supported; fix it and run the apply action$/,
    );
    fh.host.failOn(null);
    const again = await ctx.run(ctx.on.updateStatus(), { ...out, ...BASE });
    expect(again.unitStatus?.name).toBe('active');
    expect(fh.host.current().links.find((l) => l.name === 'bond0')?.master).toBe('storage');
  });
});
