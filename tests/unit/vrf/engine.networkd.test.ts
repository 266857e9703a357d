/**
 * The engine on a host where systemd-networkd runs: the files vrf-host gives networkd are
 * steps of the same plan (after the ip steps), one `networkctl reload` follows a change and
 * none a converged host, drift on a file is healed, teardown removes exactly them.
 */
import { jest } from '@jest/globals';
import { chmod, mkdir, readFile, rm, writeFile, lstat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import { converge, show, teardown } from '../../../src/vrf/engine.js';
import { observeFileReads } from '../../../src/vrf/files.js';
import { readState, under } from '../../../src/vrf/persist.js';
import { maasInputs, modelledHost, testHost, type TestHost } from './engine.host.js';

jest.setTimeout(60_000);

const MEMBERS: readonly [number, string][] = [
  [6, 'br-ens4'],
  [7, 'bond0'],
  [8, 'bond0.105'],
];

const FILES = [
  'etc/systemd/network/05-vrf-host-public.netdev',
  'etc/systemd/network/05-vrf-host-public.network',
  'etc/systemd/network/05-vrf-host-storage-cluster.netdev',
  'etc/systemd/network/05-vrf-host-storage-cluster.network',
  'etc/systemd/network/05-vrf-host-storage.netdev',
  'etc/systemd/network/05-vrf-host-storage.network',
  'etc/systemd/network/10-netplan-bond0.105.network.d/50-vrf-host.conf',
  'etc/systemd/network/10-netplan-bond0.network.d/50-vrf-host.conf',
  // ahead of time, for the bridges Juju would make of the bond and the VLAN (br-ens4 is one)
  'etc/systemd/network/10-netplan-br-bond0.105.network.d/50-vrf-host.conf',
  'etc/systemd/network/10-netplan-br-bond0.network.d/50-vrf-host.conf',
  'etc/systemd/network/10-netplan-br-ens4.network.d/50-vrf-host.conf',
];

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

interface NetworkdHost {
  readonly h: TestHost;
  readonly opts: TestHost['opts'] & { networkctlBin: string } & Pick<ReturnType<typeof modelledHost>, 'deps' | 'spawn'>;
  networkctl(): Promise<string[]>;
  put(rel: string, text: string): Promise<void>;
}

/** The maas-host fixture with networkd managing its members from netplan-style files, and a recording networkctl. */
async function networkdHost(o: { running?: boolean } = {}): Promise<NetworkdHost> {
  const h = await testHost();
  const put = async (rel: string, text: string) => {
    await mkdir(dirname(join(h.root, rel)), { recursive: true });
    await writeFile(join(h.root, rel), text);
  };
  if (o.running !== false) await put('run/systemd/netif/state', 'OPER_STATE=routable\n');
  for (const [idx, dev] of MEMBERS) {
    await put(
      `run/systemd/netif/links/${idx}`,
      `ADMIN_STATE=configured\nOPER_STATE=routable\nNETWORK_FILE=/run/systemd/network/10-netplan-${dev}.network\n`,
    );
    await put(
      `run/systemd/network/10-netplan-${dev}.network`,
      `[Match]\nName=${dev}\n\n[Network]\nLinkLocalAddressing=ipv6\n`,
    );
  }
  const log = join(h.root, 'networkctl.log');
  const bin = join(h.root, 'networkctl');
  await writeFile(bin, `#!/bin/sh\necho "$@" >> ${log}\n`);
  await chmod(bin, 0o755);
  // A host that takes each apply (converge reads it again afterwards).
  const m = modelledHost();
  return {
    h,
    opts: { ...h.opts, networkctlBin: bin, deps: m.deps, spawn: m.spawn },
    put,
    networkctl: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l !== ''),
  };
}

const ipBatchInput = async (h: TestHost) =>
  (await h.ip.calls())
    .filter((c) => !c.argv.includes('-json') && c.argv.includes('-batch'))
    .map((c) => c.stdin)
    .join('');

describe('converge where systemd-networkd runs', () => {
  it('writes the VRFs for networkd after the ip steps, records them, reloads networkd once', async () => {
    const n = await networkdHost();
    const r = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    const cmds = r.applied.map((a) => a.command);
    const firstFile = cmds.findIndex((c) => c.startsWith('write '));
    expect(cmds.slice(firstFile)).toEqual(FILES.map((f) => `write /${f}`));
    expect(cmds.slice(0, firstFile).every((c) => c.startsWith('ip ') || c.startsWith('sysctl '))).toBe(true);
    for (const f of FILES) expect(await exists(under(n.h.root, f))).toBe(true);
    expect(await readFile(under(n.h.root, FILES[4]!), 'utf8')).toContain(
      '[NetDev]\nName=storage\nKind=vrf\n\n[VRF]\nTable=1002\n',
    );
    expect(await readFile(under(n.h.root, FILES[7]!), 'utf8')).toContain(
      '[Network]\nVRF=storage\n\n[Route]\nGateway=10.10.4.1\nTable=1002\n',
    );
    // What networkd installs is what ip adds: protocol static.
    const batch = await ipBatchInput(n.h);
    expect(batch).toContain('rule add pref 99 from 10.10.4.10/32 lookup 1002 protocol static\n');
    expect(batch).toContain('route replace 0.0.0.0/0 via 10.10.4.1 dev bond0 proto static table 1002\n');
    expect(await n.networkctl()).toEqual(['reload']);
    expect((await readState(n.h.root))!.ledger.networkdFiles).toEqual(FILES);
    // Never anything under /etc/netplan.
    expect(await exists(under(n.h.root, 'etc/netplan'))).toBe(false);
  });

  it('files as given: no networkd step, no networkctl', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    const again = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(again.planned.filter((p) => p.step.kind.startsWith('networkd-'))).toEqual([]);
    expect(await n.networkctl()).toEqual(['reload']);
  });

  it('a changed or deleted file is drift: shown, then healed with one reload', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    await rm(under(n.h.root, FILES[7]!));
    await writeFile(under(n.h.root, FILES[0]!), '# edited\n');
    const files = (cmds: readonly { command: string }[]) =>
      cmds.map((c) => c.command).filter((c) => c.startsWith('write ') || c.startsWith('rm '));
    const dry = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0', dryRun: true });
    expect(files(dry.planned)).toEqual([`write /${FILES[0]}`, `write /${FILES[7]}`]);
    expect(dry.drift.inSync).toBe(false);
    expect(dry.drift.byKind['networkd-write']).toBe(2);
    const s = await show(n.opts);
    expect(s.inSync).toBe(false);
    expect(files(s.vrfs.find((v) => v.name === 'storage')!.pending.map((command) => ({ command })))).toEqual([
      `write /${FILES[7]}`,
    ]);
    expect(files(s.vrfs.find((v) => v.name === 'public')!.pending.map((command) => ({ command })))).toEqual([
      `write /${FILES[0]}`,
    ]);
    const healed = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(files(healed.applied)).toEqual(files(dry.planned));
    expect(await n.networkctl()).toEqual(['reload', 'reload']);
  });

  it('a member whose .network matches more than its name gets no drop-in, and a warning says so', async () => {
    const n = await networkdHost();
    await n.put('run/systemd/network/10-netplan-bond0.network', '[Match]\nMACAddress=52:54:00:00:00:07\n');
    const r = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.warnings).toContainEqual({
      field: 'networkd: bond0',
      message: expect.stringContaining('matches by more than this link'),
    });
    expect(await exists(under(n.h.root, FILES[7]!))).toBe(false);
    expect(await exists(under(n.h.root, 'etc/systemd/network/05-vrf-host-storage.netdev'))).toBe(true);
  });

  it('a failing networkctl reload is a warning: the files are in place', async () => {
    const n = await networkdHost();
    await writeFile(n.opts.networkctlBin, '#!/bin/sh\necho "Failed to connect to bus" >&2\nexit 1\n');
    const r = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.field)).toContain('networkd');
    for (const f of FILES) expect(await exists(under(n.h.root, f))).toBe(true);
  });

  it('networkd not running: no file, no networkctl, the ip path as before', async () => {
    const n = await networkdHost({ running: false });
    const r = await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.planned.some((p) => p.step.kind === 'networkd-write')).toBe(false);
    expect(await exists(under(n.h.root, 'etc/systemd/network'))).toBe(false);
    expect(await n.networkctl()).toEqual([]);
    // vrf-host's own routes and rules are ip's defaults; only MAAS's routes through bond0.105, which the
    // enslave of bond0 flushed (bond0.105 is a VLAN on it), are put back with the protocol they had.
    const own = (await ipBatchInput(n.h))
      .split('\n')
      .filter((l) => !/^route replace .* via 10\.10\.5\.\d+ dev bond0\.105 /.test(l));
    expect(own.join('\n')).not.toContain('static');
    const putBack = r.planned.filter((p) => p.step.kind === 'route-add' && p.step.why.includes('put back as it was'));
    expect(putBack.map((p) => p.command)).toEqual([
      'ip route replace 0.0.0.0/0 via 10.10.5.1 dev bond0.105 proto static table 3',
      'ip route replace 10.30.0.0/16 via 10.10.5.254 dev bond0.105 metric 100 proto static table 254',
    ]);
    expect((await readState(n.h.root))!.ledger.networkdFiles).toBeUndefined();
  });
});

describe('teardown where systemd-networkd runs', () => {
  it('removes exactly the files it gave networkd (and their drop-in directories), then reloads', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    // A file of someone else's in the same drop-in directory stays, and so does its directory.
    await n.put('etc/systemd/network/10-netplan-bond0.network.d/10-mtu.conf', '[Link]\nMTUBytes=9000\n');
    const r = await teardown({ ...n.opts, unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    const cmds = r.applied.map((a) => a.command);
    expect(cmds.filter((c) => c.startsWith('rm '))).toEqual(FILES.map((f) => `rm /${f}`));
    // The kernel first: the local lookup is back at 0 before networkd forgets the moved one.
    expect(cmds.findIndex((c) => c.startsWith('rm '))).toBeGreaterThan(
      cmds.findIndex((c) => c.includes('rule add pref 0 lookup 255')),
    );
    for (const f of FILES) expect(await exists(under(n.h.root, f))).toBe(false);
    expect(await exists(under(n.h.root, 'etc/systemd/network/10-netplan-br-ens4.network.d'))).toBe(false);
    expect(await exists(under(n.h.root, 'etc/systemd/network/10-netplan-bond0.network.d/10-mtu.conf'))).toBe(true);
    expect(await n.networkctl()).toEqual(['reload', 'reload']);
    expect(await readState(n.h.root)).toBeNull();
  });

  it('with its state file gone, still finds its own files by name', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await rm(under(n.h.root, 'var/lib/vrf-host/state.json'));
    const r = await teardown({ ...n.opts, force: true });
    expect(r.ok).toBe(true);
    for (const f of FILES) expect(await exists(under(n.h.root, f))).toBe(false);
  });
});

describe('what a no-op converge reads where systemd-networkd runs (the update-status memo watches it)', () => {
  it("reads networkd's state file, each member's link state and .network file, and every file given", async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    const read = new Set<string>();
    const r = await observeFileReads(
      (f) => read.add(f.path),
      () => converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' }),
    );
    expect(r.applied).toEqual([]);
    const has = (path: string) => expect(read).toContain(under(n.h.root, path));
    has('run/systemd/netif/state');
    for (const f of FILES) has(f);
    for (const [idx, dev] of MEMBERS) {
      has(`run/systemd/netif/links/${idx}`);
      has(`run/systemd/network/10-netplan-${dev}.network`);
    }
  });
});

describe('show-vrfs where systemd-networkd runs', () => {
  it('says when networkd-dispatcher does not run (read from /proc, by show only)', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    const fields = async () => (await show(n.opts)).warnings.map((w) => w.field);
    expect(await fields()).toContain('networkd-dispatcher');
    await n.put('../proc/4242/comm', 'networkd-dispat\n');
    expect(await fields()).not.toContain('networkd-dispatcher');
  });
});

describe('converge where networkd drops what it held under the ip path', () => {
  const noReach = () => {
    const r = parseEngineConfig({ 'preserve-reachability': false });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return maasInputs(r.config);
  };
  const ruleDels = async (h: TestHost) =>
    (await h.ip.calls()).filter((c) => c.stdin?.includes('route del 10.10.4.0/24 dev storage table 254')).length;

  it('a deletion that finds its object gone starts over from a new observation, at most 3 times', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    await n.h.ip.failOn('^route del 10\\.10\\.4\\.0/24 dev storage', 'RTNETLINK answers: No such process');
    const before = await ruleDels(n.h);
    const r = await converge({ ...n.opts, inputs: noReach(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect((await ruleDels(n.h)) - before).toBe(3);
  });

  it('a rule deletion that finds its rule gone (ENOENT) starts over the same way', async () => {
    const n = await networkdHost();
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    const del = 'rule del pref 98 from 10.10.4.10/32 lookup 255';
    await n.h.ip.failOn('^rule del pref 98 from 10\\.10\\.4\\.10/32 ', 'RTNETLINK answers: No such file or directory');
    const dels = async () => (await n.h.ip.calls()).filter((c) => c.stdin?.includes(del)).length;
    const before = await dels();
    const r = parseEngineConfig({ 'move-local-rule': false });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const report = await converge({ ...n.opts, inputs: maasInputs(r.config), unit: 'vrf-host/0' });
    expect(report.failure?.error).toContain('No such file or directory');
    expect((await dels()) - before).toBe(3);
  });

  it('without networkd the same failure is reported at once', async () => {
    const n = await networkdHost({ running: false });
    await converge({ ...n.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await n.h.serve('converged');
    await n.h.ip.failOn('^route del 10\\.10\\.4\\.0/24 dev storage', 'RTNETLINK answers: No such process');
    const before = await ruleDels(n.h);
    const r = await converge({ ...n.opts, inputs: noReach(), unit: 'vrf-host/0' });
    expect(r.failure?.error).toContain('No such process');
    expect((await ruleDels(n.h)) - before).toBe(1);
  });
});
