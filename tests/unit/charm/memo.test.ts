/**
 * The charm's side of the hook memo: where a unit's record lives, which
 * dispatch paths replay, and when an update-status may be recorded.
 */
import { dispatchedHook, memoDir, memoPath } from '../../../src/charm/memo.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoAllowance, recordingFiles, type SpawnCall } from '../../../src/charm/recording.js';
import { exists, readdir, readFile } from '../../../src/vrf/files.js';
import type { CharmHost } from '../../../src/charm/host.js';
import { isIpReadLine } from '../../../src/vrf/observe/stable.js';
import { observeBatch } from '../../../src/vrf/observe.js';

describe('memoPath and dispatchedHook', () => {
  test('one record per unit under the host root; off with VRF_HOST_MEMO=0 or an unusable environment', () => {
    expect(memoPath({ JUJU_UNIT_NAME: 'vrf-host/0' })).toBe('/var/lib/vrf-host/memo/vrf-host-0.json');
    expect(memoPath({ JUJU_UNIT_NAME: 'vrf-host-ceph/12', VRF_HOST_ROOT: '/srv/root' })).toBe(
      '/srv/root/var/lib/vrf-host/memo/vrf-host-ceph-12.json',
    );
    expect(memoPath({ JUJU_UNIT_NAME: 'vrf-host/0', VRF_HOST_MEMO: '0' })).toBeNull();
    expect(memoPath({ JUJU_UNIT_NAME: 'vrf-host/0', VRF_HOST_ROOT: 'relative/root' })).toBeNull();
    for (const bad of [undefined, '', 'vrf-host', 'vrf-host/x', '../../etc/0', 'a/0/../1', 'Vrf/0']) {
      expect(memoPath({ ...(bad !== undefined ? { JUJU_UNIT_NAME: bad } : {}) })).toBeNull();
    }
    expect(memoDir(undefined)).toBe('/var/lib/vrf-host/memo');
  });

  test('only hooks name a hook; actions and odd paths do not', () => {
    expect(dispatchedHook('hooks/update-status')).toBe('update-status');
    expect(dispatchedHook('./hooks/update-status')).toBe('update-status');
    expect(dispatchedHook('actions/show-vrfs')).toBeNull();
    expect(dispatchedHook('hooks/../update-status')).toBeNull();
    expect(dispatchedHook(undefined)).toBeNull();
  });
});

describe('memoAllowance', () => {
  const host: CharmHost = {
    engine: { ipBin: '/sbin/ip', flockBin: '/usr/bin/flock', root: '/srv/r', procRoot: '/srv/p', sysRoot: '/srv/s' },
    boot: false,
    bootDisabled: 'test',
  };
  const call = (file: string, args: string[], stdout = '[]\n', input?: string): SpawnCall => ({
    file,
    args,
    ...(input !== undefined ? { input } : {}),
    result: { exitCode: 0, stdout, stderr: '' },
  });
  const files = [{ path: '/srv/r/var/lib/vrf-host/state.json', how: 'stat' as const, state: 'absent' }];

  test('a run that only read (ip -json) and locked: its reads, normalised, and the files it read', () => {
    const a = memoAllowance(
      [
        call('/usr/bin/flock', ['-x', '-w', '120', '3']),
        call(
          '/sbin/ip',
          ['-json', '-details', '-Numeric', '-force', '-batch', '-'],
          '[{"ifname":"br0","linkinfo":{"info_data":{"gc_timer":12.5,"stp_state":0}}}]\n',
          'link show\n',
        ),
      ],
      host,
      files,
    );
    expect(a?.reads).toEqual([
      {
        argv: ['/sbin/ip', '-json', '-details', '-Numeric', '-force', '-batch', '-'],
        input: 'link show\n',
        env: { LC_ALL: 'C' },
        normalize: 'ip-json',
        exitCode: 0,
        stdout: '[{"ifname":"br0","linkinfo":{"info_data":{"stp_state":0}}}]\n',
        stderr: '',
      },
    ]);
    expect(a?.files).toBe(files);
  });

  test('a run that applied, loaded a module or ran anything else is not recordable', () => {
    expect(
      memoAllowance([call('/sbin/ip', ['-batch', '-'], '', 'link add name x type vrf table 1001\n')], host, files),
    ).toBeNull();
    expect(memoAllowance([call('modprobe', ['vrf'])], host, files)).toBeNull();
    expect(memoAllowance([call('/bin/ip', ['-json', 'link', 'show'])], host, files)).toBeNull(); // not the configured ip
  });
});

describe('recordingFiles: what the memo watches is what the run read through src/vrf/files.ts', () => {
  let t: string;
  beforeEach(async () => {
    t = await mkdtemp(join(tmpdir(), 'vrf-host-recording-'));
    await mkdir(join(t, 'proc/sys/net/ipv4'), { recursive: true });
    await mkdir(join(t, 'root/etc/netplan'), { recursive: true });
    await writeFile(join(t, 'proc/sys/net/ipv4/tcp_l3mdev_accept'), '1\n');
    await writeFile(join(t, 'root/etc/netplan/50.yaml'), 'network: {}\n');
  });
  afterEach(async () => {
    await rm(t, { recursive: true, force: true });
  });
  const host = () => ({ engine: { root: join(t, 'root'), procRoot: join(t, 'proc'), sysRoot: join(t, 'sys') } });

  test('procfs and sysfs by content, the rest by identity, each path once, with its state when it was read', async () => {
    const sysctl = join(t, 'proc/sys/net/ipv4/tcp_l3mdev_accept');
    const { result, files } = await recordingFiles(host(), async () => {
      const v = await readFile(sysctl, 'utf8');
      await readdir(join(t, 'root/etc/netplan'));
      await readFile(join(t, 'root/etc/netplan/50.yaml'), 'utf8');
      await readFile(sysctl, 'utf8');
      await exists(join(t, 'sys/module/vrf'));
      return v;
    });
    // Read outside the recorded run: not an input of it.
    await readFile(join(t, 'root/etc/netplan/50.yaml'), 'utf8');
    await writeFile(sysctl, '0\n'); // after the read: the record keeps what the run saw
    expect(result).toBe('1\n');
    const got = files();
    expect(got.map((f) => `${f.how} ${f.path.slice(t.length)}`)).toEqual([
      'content /proc/sys/net/ipv4/tcp_l3mdev_accept',
      'stat /root/etc/netplan',
      'stat /root/etc/netplan/50.yaml',
      'content /sys/module/vrf',
    ]);
    expect(got[0]?.state).toBe('file:1\n');
    expect(got[3]?.state).toBe('absent');
  });

  test('nothing is recorded from reads made outside it, even concurrently', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const outside = (async () => {
      await gate;
      await readFile(join(t, 'root/etc/netplan/50.yaml'), 'utf8');
    })();
    const { files } = await recordingFiles(host(), async () => {
      release();
      await outside;
      await readdir(join(t, 'root/etc/netplan'));
    });
    expect(files().map((f) => f.path)).toEqual([join(t, 'root/etc/netplan')]);
  });
});

describe('isIpReadLine (what the launcher lets a record feed to ip)', () => {
  test('every line the engine observes with is a read; changes are not', () => {
    for (const l of observeBatch(['10.0.0.1', '2001:db8::1']))
      expect({ l, read: isIpReadLine(l.join(' ')) }).toEqual({ l, read: true });
    for (const l of [
      'link add name x type vrf table 10',
      'route replace default via 10.0.0.1',
      'rule del pref 0',
      'link set dev eth0 master x',
      'route flush table 10',
      'link showx',
    ]) {
      expect({ l, read: isIpReadLine(l) }).toEqual({ l, read: false });
    }
  });
});
