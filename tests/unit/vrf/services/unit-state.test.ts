import {
  parseSystemctlShow,
  parseSystemctlShowMany,
  SHOW_PROPERTIES,
  vrfExecTraps,
} from '../../../../src/vrf/services/unit-state.js';
import { CHRONY_SHOW, show } from './fixtures.js';

describe('parseSystemctlShow', () => {
  it('reads every property it asks for', () => {
    expect(
      CHRONY_SHOW.trim()
        .split('\n')
        .map((l) => l.split('=')[0]),
    ).toEqual([...SHOW_PROPERTIES]);
    expect(parseSystemctlShow(CHRONY_SHOW)).toEqual({
      ok: true,
      unit: {
        Id: 'chrony.service',
        LoadState: 'loaded',
        ActiveState: 'active',
        MainPID: 612,
        Type: 'forking',
        FragmentPath: '/lib/systemd/system/chrony.service',
        DropInPaths: [
          '/etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf',
          '/run/systemd/system/chrony.service.d/x.conf',
        ],
        User: '',
        DynamicUser: false,
        ProtectControlGroups: false,
        PrivateNetwork: false,
        NetworkNamespacePath: '',
        RootDirectory: '',
        RootImage: '',
        Before: ['multi-user.target', 'shutdown.target', 'time-sync.target'],
      },
    });
  });

  it('reads one block per unit from one systemctl show of several', () => {
    const other = CHRONY_SHOW.replace('Id=chrony.service', 'Id=x.service').replace(
      'LoadState=loaded',
      'LoadState=not-found',
    );
    const r = parseSystemctlShowMany(`${CHRONY_SHOW}\n${other}\n`);
    expect(r.map((x) => (x.ok ? `${x.unit.Id} ${x.unit.LoadState}` : x.problem))).toEqual([
      'chrony.service loaded',
      'x.service not-found',
    ]);
  });

  it('names a missing or malformed property', () => {
    expect(parseSystemctlShow(CHRONY_SHOW.replace('DynamicUser=no', 'DynamicUser=maybe'))).toMatchObject({
      ok: false,
      problem: expect.stringContaining('DynamicUser') as unknown,
    });
    expect(parseSystemctlShow(CHRONY_SHOW.replace(/^MainPID=.*\n/m, ''))).toMatchObject({
      ok: false,
      problem: expect.stringContaining('MainPID') as unknown,
    });
  });
});

describe('vrfExecTraps', () => {
  it('none for a root service', () => {
    expect(vrfExecTraps(show())).toEqual([]);
    expect(vrfExecTraps(show({ User: 'root' }))).toEqual([]);
    expect(vrfExecTraps(show({ User: '0' }))).toEqual([]);
  });
  it.each([
    [{ User: '_chrony' }, 'User=_chrony'],
    [{ DynamicUser: true }, 'DynamicUser=yes'],
    [{ ProtectControlGroups: true }, 'ProtectControlGroups=yes'],
    [{ PrivateNetwork: true }, 'network namespace of its own'],
    [{ NetworkNamespacePath: '/run/netns/x' }, 'network namespace of its own'],
    [{ RootDirectory: '/srv/jail' }, 'RootDirectory='],
    [{ RootImage: '/srv/img.raw' }, 'RootDirectory=/RootImage='],
    [
      { Before: ['network.target', 'sockets.target'] },
      'ordered before network.target, which vrf-host.service starts after',
    ],
  ])('%j: one reason naming the setting', (over, what) => {
    const traps = vrfExecTraps(show(over));
    expect(traps).toHaveLength(1);
    expect(traps[0]).toContain(what);
  });
});
