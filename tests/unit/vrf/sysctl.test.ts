import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  desiredSysctls,
  readSysctls,
  renderSysctlConf,
  sysctlPath,
  writeSysctl,
  SysctlError,
} from '../../../src/vrf/sysctl.js';
import { SYSCTL, type DesiredState, type HostOptions } from '../../../src/vrf/types.js';

async function procWith(values: Record<string, string>): Promise<string> {
  const proc = await mkdtemp(join(tmpdir(), 'vrf-proc-'));
  for (const [k, v] of Object.entries(values)) {
    const p = sysctlPath(k, proc);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, `${v}\n`);
  }
  return proc;
}

const desired = (over: Partial<HostOptions> & Pick<Partial<DesiredState>, 'vrfs'> = {}): DesiredState => ({
  vrfs: [
    {
      name: 'storage',
      binding: 'storage',
      table: 1001,
      tableSource: 'auto',
      members: ['ens4'],
      addresses: [],
      gateways: {},
      routes: [],
    },
  ],
  ...(over.vrfs ? { vrfs: over.vrfs } : {}),
  inMain: [],
  options: {
    strict: over.strict ?? true,
    moveLocalRule: over.moveLocalRule ?? true,
    preserveReachability: over.preserveReachability ?? true,
    nonlocalBind: over.nonlocalBind ?? true,
    l3mdevAccept: over.l3mdevAccept ?? true,
  },
});

describe('sysctl', () => {
  it('maps a key to its /proc/sys path and refuses keys vrf-host does not own', () => {
    expect(sysctlPath(SYSCTL.keepAddrOnDown, '/p')).toBe('/p/sys/net/ipv6/conf/all/keep_addr_on_down');
    expect(() => sysctlPath('kernel.panic', '/p')).toThrow(SysctlError);
    expect(() => sysctlPath('net.ipv4.ip_forward', '/p')).toThrow(/not one vrf-host owns/);
  });

  it('reads values and reports absent keys as null (kernel < 4.5)', async () => {
    const proc = await procWith({ [SYSCTL.tcpL3mdev]: '0', [SYSCTL.keepAddrOnDown]: '1' });
    expect(await readSysctls([SYSCTL.tcpL3mdev, SYSCTL.udpL3mdev, SYSCTL.keepAddrOnDown], proc)).toEqual({
      [SYSCTL.tcpL3mdev]: '0',
      [SYSCTL.udpL3mdev]: null,
      [SYSCTL.keepAddrOnDown]: '1',
    });
  });

  it('fails on a key it cannot read for another reason than absence, naming it (not a silent null)', async () => {
    const proc = await procWith({ [SYSCTL.tcpL3mdev]: '0' });
    // A directory where the value should be: EISDIR, not ENOENT.
    await mkdir(sysctlPath(SYSCTL.udpL3mdev, proc), { recursive: true });
    await expect(readSysctls([SYSCTL.tcpL3mdev, SYSCTL.udpL3mdev], proc)).rejects.toThrow(
      /^cannot read net\.ipv4\.udp_l3mdev_accept: EISDIR/,
    );
  });

  it('writes an existing key and never creates a missing one', async () => {
    const proc = await procWith({ [SYSCTL.tcpL3mdev]: '0' });
    await writeSysctl(SYSCTL.tcpL3mdev, '1', proc);
    expect(await readFile(sysctlPath(SYSCTL.tcpL3mdev, proc), 'utf8')).toBe('1\n');
    await expect(writeSysctl(SYSCTL.udpL3mdev, '1', proc)).rejects.toThrow(
      /cannot set net.ipv4.udp_l3mdev_accept=1: this kernel has no such sysctl/,
    );
    await expect(writeSysctl(SYSCTL.tcpL3mdev, '1\nkernel.panic=1', proc)).rejects.toThrow(/not a number/);
  });

  it('persists only the keys the desired state sets', () => {
    expect(desiredSysctls(desired())).toEqual({
      [SYSCTL.keepAddrOnDown]: '1',
      [SYSCTL.tcpL3mdev]: '1',
      [SYSCTL.udpL3mdev]: '1',
      [SYSCTL.nonlocalBind4]: '1',
      [SYSCTL.nonlocalBind6]: '1',
    });
    expect(desiredSysctls(desired({ nonlocalBind: false, l3mdevAccept: false }))).toEqual({
      [SYSCTL.keepAddrOnDown]: '1',
    });
    expect(desiredSysctls(desired({ vrfs: [] }))).toEqual({});
    const conf = renderSysctlConf(desiredSysctls(desired({ nonlocalBind: false })))!;
    expect(conf.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'net.ipv4.tcp_l3mdev_accept = 1',
      'net.ipv4.udp_l3mdev_accept = 1',
      'net.ipv6.conf.all.keep_addr_on_down = 1',
    ]);
    expect(renderSysctlConf({})).toBeNull();
    expect(renderSysctlConf({ 'kernel.panic': '1' })).toBeNull();
  });
});
