/**
 * The charm's side of the hook memo: where a unit's record lives, which
 * dispatch paths replay, and when an update-status may be recorded.
 */
import { dispatchedHook, memoDir, memoPath } from '../../../src/charm/memo.js';
import { memoAllowance, watchedBefore, type SpawnCall } from '../../../src/charm/recording.js';
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

  test('a run that only read (ip -json) and locked: its reads, normalised, and the files the engine reads', async () => {
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
      await watchedBefore(host),
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
    const paths = a?.watch.map((w) => `${w.how} ${w.path}`) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'stat /srv/r/var/lib/vrf-host/state.json',
        'stat /srv/r/etc/sysctl.d/60-vrf-host.conf',
        'stat /srv/r/etc/iproute2/rt_tables.d/vrf-host.conf',
        'content /srv/s/module/vrf',
        'content /srv/p/sys/net/ipv4/tcp_l3mdev_accept',
        'content /srv/p/1/environ',
        'content /srv/r/etc/netplan',
      ]),
    );
  });

  test('a run that applied, loaded a module or ran anything else is not recordable', async () => {
    const before = await watchedBefore(host);
    expect(
      memoAllowance([call('/sbin/ip', ['-batch', '-'], '', 'link add name x type vrf table 1001\n')], host, before),
    ).toBeNull();
    expect(memoAllowance([call('modprobe', ['vrf'])], host, before)).toBeNull();
    expect(memoAllowance([call('/bin/ip', ['-json', 'link', 'show'])], host, before)).toBeNull(); // not the configured ip
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
