/**
 * Forwarding to local containers or pods: found from IPv4/IPv6 forwarding and the main table's
 * routes to local bridges and veths that no binding uses; a converge with new input is blocked by
 * it (nothing applied) unless allow-forwarding, and show-vrfs names it.
 */
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import { converge, show } from '../../../src/vrf/engine.js';
import {
  bindingDevices,
  FORWARDING_SYSCTLS,
  forwardingFindings,
  forwardingProblem,
  readForwarding,
} from '../../../src/vrf/forwarding.js';
import type { Link, ObservedHost, Route } from '../../../src/vrf/types.js';
import { maasInputs, modelledHost, testHost } from './engine.host.js';
import { mkLink } from './builders.js';
import { loadRecorded } from './recorded.js';

const link = (name: string, kind: string, ifindex: number): Link => mkLink(name, { kind, ifindex });
const route = (dst: string, dev: string, family: Route['family'] = 'inet'): Route => ({
  family,
  table: 254,
  dst,
  type: 'unicast',
  gateway: null,
  dev,
  protocol: 'kernel',
  scope: 'link',
  metric: null,
  prefsrc: null,
});

/** The recorded MAAS host with Docker's bridge and a Calico-style pod veth. */
const withContainers = (h: ObservedHost): ObservedHost => ({
  ...h,
  links: [...h.links, link('docker0', 'bridge', 40), link('cali1234', 'veth', 41)],
  routes: [
    ...h.routes,
    route('172.17.0.0/16', 'docker0'),
    route('10.1.2.3/32', 'cali1234'),
    route('fe80::/64', 'docker0', 'inet6'),
    route('fd00:17::/64', 'docker0', 'inet6'),
  ],
});
const host = withContainers(loadRecorded('maas-host'));
const own = bindingDevices(null, maasInputs().bindings);
const ON = { inet: true, inet6: false };

describe('readForwarding', () => {
  /** A fake /proc: each key's value, or a directory where the value should be (`{ dir: true }`). */
  const proc = async (values: Record<string, string | { dir: true }>) => {
    const root = await mkdtemp(join(tmpdir(), 'vrf-fwd-'));
    for (const [key, v] of Object.entries(values)) {
      const p = join(root, 'sys', ...key.split('.'));
      if (typeof v !== 'string') await mkdir(p, { recursive: true });
      else {
        await mkdir(join(p, '..'), { recursive: true });
        await writeFile(p, v);
      }
    }
    return root;
  };

  it('reads each family; a key the kernel lacks (IPv6 disabled) is false', async () => {
    const root = await proc({ [FORWARDING_SYSCTLS.inet]: '1\n' });
    expect(await readForwarding(root)).toStrictEqual({ inet: true, inet6: false });
  });

  it('fails on a key it cannot read for another reason', async () => {
    const root = await proc({ [FORWARDING_SYSCTLS.inet]: '0\n', [FORWARDING_SYSCTLS.inet6]: { dir: true } });
    await expect(readForwarding(root)).rejects.toThrow(/EISDIR/);
  });
});

describe('forwardingFindings', () => {
  it('names the routes to local bridges and veths of each forwarding family', () => {
    expect(forwardingFindings(host, ON, own)).toEqual([
      {
        family: 'inet',
        sysctl: 'net.ipv4.ip_forward',
        routes: [
          { dst: '172.17.0.0/16', dev: 'docker0', kind: 'bridge' },
          { dst: '10.1.2.3/32', dev: 'cali1234', kind: 'veth' },
        ],
      },
    ]);
    // IPv6: the global route counts, the link-local one never does.
    expect(forwardingFindings(host, { inet: false, inet6: true }, own)).toEqual([
      {
        family: 'inet6',
        sysctl: 'net.ipv6.conf.all.forwarding',
        routes: [{ dst: 'fd00:17::/64', dev: 'docker0', kind: 'bridge' }],
      },
    ]);
  });

  it('finds nothing without forwarding, or when the only bridges and veths are the bindings’ own', () => {
    expect(forwardingFindings(host, { inet: false, inet6: false }, own)).toEqual([]);
    // The recorded host: br-ens4 (a bridge) is public's member and ens3 (a veth here) mgmt's.
    expect(forwardingFindings(loadRecorded('maas-host'), { inet: true, inet6: true }, own)).toEqual([]);
    // Without knowing the bindings, the same host's ens3 would count: they are what rules it out.
    expect(forwardingFindings(loadRecorded('maas-host'), ON, new Set())).not.toEqual([]);
  });

  it('says what it found, what it would do to it, and how to proceed', () => {
    expect(forwardingProblem(forwardingFindings(host, ON, own)).message).toBe(
      "this host forwards to local containers or pods, and a space's VRF would drop what arrives on its interface:" +
        ' nothing applied; set allow-forwarding=true to build the VRFs anyway (IPv4 forwarding on' +
        ' (net.ipv4.ip_forward=1), routes to local bridges or veths: 172.17.0.0/16 dev docker0 (bridge),' +
        ' 10.1.2.3/32 dev cali1234 (veth))',
    );
  });
});

describe('a converge on a host that forwards', () => {
  const inputs = (allow: boolean) => {
    const c = parseEngineConfig({ gateways: 'storage=10.10.4.1', 'allow-forwarding': allow });
    if (!c.ok) throw new Error('config');
    return { ...maasInputs(c.config) };
  };
  async function forwardingHost() {
    const h = await testHost();
    await mkdir(join(h.procRoot, 'sys/net/ipv4'), { recursive: true });
    await writeFile(join(h.procRoot, 'sys/net/ipv4/ip_forward'), '1\n');
    return { h, m: modelledHost(undefined, withContainers) };
  }

  it('is blocked, and applies nothing, without allow-forwarding; show-vrfs says the same', async () => {
    const { h, m } = await forwardingHost();
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: inputs(false), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.field)).toEqual(['allow-forwarding']);
    expect(r.applied).toEqual([]);
    expect(m.applies()).toBe(0);
    expect((await h.ip.calls()).filter((c) => !c.argv.includes('-json') && c.argv.includes('-batch'))).toEqual([]);
    const s = await show({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: inputs(false) });
    expect(s.problems.map((p) => p.field)).toContain('allow-forwarding');
    expect(s.hostFilter.forwarding.map((f) => f.routes.map((x) => x.dev))).toEqual([['docker0', 'cali1234']]);
    expect(s.summary).toMatch(/^forwarding: IPv4 forwarding on/m);
  });

  it('builds the VRFs with allow-forwarding, and warns', async () => {
    const { h, m } = await forwardingHost();
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: inputs(true), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.applied.length).toBeGreaterThan(0);
    expect(r.warnings.find((w) => w.field === 'allow-forwarding')?.message).toMatch(
      /forwarded traffic entering a VRF member is dropped \(allow-forwarding is true\)$/,
    );
  });
});

describe('show-vrfs and the packet filter', () => {
  /** A dump tool that prints a recorded dump (tests/fixtures/netfilter), or fails like a missing one. */
  async function tool(dir: string, name: string, fixture: string | null): Promise<string> {
    const path = join(dir, name);
    const body =
      fixture === null
        ? `echo "${name}: not found" >&2; exit 127`
        : `exec cat ${join(process.cwd(), 'tests/fixtures/netfilter', fixture)}`;
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  it('names each rule that names a member by interface, with its VRF, and the NAT rules', async () => {
    const h = await testHost();
    const netfilterBins = {
      'iptables-save': await tool(h.root, 'iptables-save', 'iptables-save.txt'),
      'ip6tables-save': await tool(h.root, 'ip6tables-save', 'ip6tables-save.txt'),
      nft: await tool(h.root, 'nft', 'nft.json'),
    };
    const inputs = maasInputs(parseOk({ gateways: 'storage=10.10.4.1 storage-cluster=10.10.5.1' }));
    const s = await show({ ...h.opts, netfilterBins, netfilter: true, inputs });
    const f = s.hostFilter;
    expect(f.unread).toEqual([]);
    expect(
      f.firewall.map((x) => `${x.rule.tool} ${x.rule.chain} ${x.members.map((m) => `${m.dev}@${m.vrf}`).join(',')}`),
    ).toEqual([
      'iptables-save INPUT bond0@storage',
      'iptables-save PREROUTING bond0@storage',
      'ip6tables-save INPUT bond0.105@storage-cluster',
      'nft input bond0@storage',
      'nft input br-ens4@public',
      'nft pre bond0@storage',
    ]);
    // ens3 (mgmt, in main) and br-ex+ (no member) are named by rules too, but are no member.
    expect(f.nat.map((r) => `${r.tool} ${r.chain}`)).toEqual(['iptables-save PREROUTING', 'nft pre']);
    expect(s.summary).toMatch(
      /^firewall: iptables-save filter INPUT names bond0 \(in VRF storage: netfilter sees storage for its incoming traffic\): -A INPUT -i bond0 -p tcp -m tcp --dport 7001 -j DROP$/m,
    );
    expect(s.summary).toMatch(/^forwarding: iptables-save nat PREROUTING forwards: -A PREROUTING -i bond0 .* -j DNAT/m);
  });

  it('says which dumps it could not read, and reads none unless asked', async () => {
    const h = await testHost();
    const netfilterBins = {
      'iptables-save': await tool(h.root, 'iptables-save', null),
      'ip6tables-save': await tool(h.root, 'ip6tables-save', null),
      nft: await tool(h.root, 'nft', null),
    };
    const s = await show({ ...h.opts, netfilterBins, netfilter: true });
    expect(s.hostFilter.unread).toEqual([
      'iptables-save: iptables-save: not found',
      'ip6tables-save: ip6tables-save: not found',
      'nft: nft: not found',
    ]);
    const quiet = await show({ ...h.opts, netfilterBins });
    expect(quiet.hostFilter).toEqual({ forwarding: [], nat: [], firewall: [], unread: [] });
  });
});

function parseOk(raw: Record<string, unknown>) {
  const c = parseEngineConfig(raw);
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.config;
}
