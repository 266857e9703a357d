import { mkdtemp, readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  atomicWrite,
  parseState,
  PATHS,
  readState,
  renderRtTables,
  StateFileError,
  STATE_VERSION,
  under,
  unionLedger,
  withServices,
  writeState,
} from '../../../src/vrf/persist.js';
import {
  type DesiredState,
  EMPTY_LEDGER,
  type Ledger,
  type LedgerV1,
  type PlacedService,
  type Route,
} from '../../../src/vrf/types.js';

const route = (dst: string, table = 254): Route => ({
  family: 'inet',
  table,
  dst,
  type: 'unicast',
  gateway: '10.0.0.1',
  dev: 'ens4',
  protocol: 'static',
  scope: 'global',
  metric: null,
  prefsrc: null,
});

/** A ledger as version 1 kept it (no ownedRules). */
const v1Ledger: LedgerV1 = {
  vrfs: { storage: 1001, public: 1002 },
  migratedRoutes: [route('10.30.0.0/16')],
  migratedRules: [
    {
      family: 'inet',
      priority: 100,
      src: '10.10.4.0/24',
      dst: null,
      table: 2,
      l3mdev: false,
      iif: null,
      oif: null,
      fwmark: null,
      action: 'lookup',
    },
  ],
  localRuleMoved: true,
  sysctlsBefore: { 'net.ipv4.tcp_l3mdev_accept': '0', 'net.ipv4.ip_nonlocal_bind': null },
};
const ledger: Ledger = {
  ...v1Ledger,
  ownedRules: [{ family: 'inet', priority: 99, src: '10.10.4.23/32', table: 1001 }],
};
/** What version 1's localRuleMoved owned: the local lookup at its 32765, both families. */
const v1Local = [
  { family: 'inet', priority: 32765, table: 255 },
  { family: 'inet6', priority: 32765, table: 255 },
];

const tmp = () => mkdtemp(join(tmpdir(), 'vrf-persist-'));

describe('atomicWrite', () => {
  it('writes through a temp file in the same directory and leaves no temp behind', async () => {
    const root = await tmp();
    const path = join(root, 'a/b/c.conf');
    await atomicWrite(path, 'one\n');
    await atomicWrite(path, 'two\n', 0o600);
    expect(await readFile(path, 'utf8')).toBe('two\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(path))).toEqual(['c.conf']);
  });
});

describe('state.json', () => {
  it('round-trips units, application, desired state and ledger', async () => {
    const root = await tmp();
    expect(await readState(root)).toBeNull();
    await writeState(root, {
      application: 'vrf-host',
      units: ['vrf-host/0', 'vrf-host/3'],
      desired: null,
      ledger,
      applying: false,
    });
    const s = await readState(root);
    expect(s).toMatchObject({
      version: 2,
      application: 'vrf-host',
      units: ['vrf-host/0', 'vrf-host/3'],
      desired: null,
      ledger,
      applying: false,
    });
    expect((await stat(under(root, PATHS.state))).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['not JSON', '{"version":1,', /is corrupt \(not JSON/],
    [
      'a wrong field',
      JSON.stringify({
        version: 1,
        application: null,
        units: 'vrf-host/0',
        desired: null,
        ledger: EMPTY_LEDGER,
        applying: false,
        updated: 'x',
      }),
      /is corrupt at units:/,
    ],
    [
      'a bad ledger',
      JSON.stringify({
        version: 1,
        application: null,
        units: [],
        desired: null,
        ledger: { ...EMPTY_LEDGER, vrfs: { a: 'x' } },
        applying: false,
        updated: 'x',
      }),
      /is corrupt at ledger\.vrfs\.a:/,
    ],
    ['another version', JSON.stringify({ version: 7 }), /has version 7; this vrf-host reads versions 1, 2/],
    ['not an object', JSON.stringify('vrf-host'), /is corrupt at \(top level\): /],
  ])('refuses %s with a precise error and leaves the file alone', async (_what, text, re) => {
    const root = await tmp();
    const path = under(root, PATHS.state);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    const err = await readState(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe(text);
  });

  it('reads a state file written before l3mdevRuleAdded and rule protocols existed, and round-trips both', async () => {
    const root = await tmp();
    const path = under(root, PATHS.state);
    await mkdir(dirname(path), { recursive: true });
    // The exact shape an earlier vrf-host wrote: no ledger.l3mdevRuleAdded, rules without protocol.
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        application: 'vrf-host',
        units: ['vrf-host/0'],
        desired: null,
        ledger: v1Ledger,
        applying: false,
        updated: 'x',
      }),
    );
    const old = (await readState(root))!;
    expect(old.version).toBe(STATE_VERSION);
    expect(old.ledger).toEqual({ ...v1Ledger, ownedRules: v1Local });
    expect(old.ledger).not.toHaveProperty('l3mdevRuleAdded');
    const now: Ledger = {
      ...ledger,
      migratedRules: [{ ...ledger.migratedRules[0]!, protocol: 'static' }],
      l3mdevRuleAdded: ['inet', 'inet6'],
    };
    await writeState(root, {
      application: 'vrf-host',
      units: ['vrf-host/0'],
      desired: null,
      ledger: now,
      applying: false,
    });
    expect((await readState(root))!.ledger).toEqual(now);
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        application: null,
        units: [],
        desired: null,
        ledger: { ...v1Ledger, l3mdevRuleAdded: ['inet5'] },
        applying: false,
        updated: 'x',
      }),
    );
    await expect(readState(root)).rejects.toThrow(/is corrupt at ledger\.l3mdevRuleAdded\.0:/);
  });

  it('round-trips a desired state whole, and reads one written before the options were grouped', async () => {
    const root = await tmp();
    const options = {
      strict: true,
      moveLocalRule: false,
      preserveReachability: true,
      nonlocalBind: false,
      l3mdevAccept: true,
    };
    const want: DesiredState = {
      vrfs: [
        {
          name: 'storage',
          binding: 'storage',
          table: 1001,
          tableSource: 'persisted',
          members: ['ens4'],
          addresses: [{ dev: 'ens4', family: 'inet', address: '10.10.4.23', prefixlen: 24, subnet: '10.10.4.0/24' }],
          gateways: { inet: { family: 'inet', address: '10.10.4.1', source: 'main-route', detail: 'ens4' } },
          routes: [{ to: '10.30.0.0/16', via: '10.10.4.1', metric: 10 }],
        },
      ],
      inMain: [{ binding: 'juju-info', reason: 'controller-path', interfaces: ['ens3'] }],
      options,
    };
    await writeState(root, { application: 'vrf-host', units: ['vrf-host/0'], desired: want, ledger, applying: false });
    expect((await readState(root))!.desired).toEqual(want);
    // An earlier vrf-host kept the options at the top level of the desired state.
    const path = under(root, PATHS.state);
    const { options: _, ...rest } = want;
    const flat = { ...rest, ...options };
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        application: null,
        units: [],
        desired: flat,
        ledger: v1Ledger,
        applying: false,
        updated: 'x',
      }),
    );
    expect((await readState(root))!.desired).toEqual(want);
    const { strict: __, ...partial } = flat;
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        application: null,
        units: [],
        desired: partial,
        ledger: v1Ledger,
        applying: false,
        updated: 'x',
      }),
    );
    await expect(readState(root)).rejects.toThrow(/is corrupt at desired\.options\.strict:/);
  });

  it('never writes a state it could not read back', async () => {
    const root = await tmp();
    const bad = { ...ledger, vrfs: { storage: -1 } };
    await expect(
      writeState(root, { application: null, units: [], desired: null, ledger: bad, applying: false }),
    ).rejects.toThrow(StateFileError);
    expect(await readState(root)).toBeNull();
  });
});

describe('the services in the ledger', () => {
  const placed = (unit: string, vrf: string, ifindex: number): PlacedService => ({
    unit,
    vrf,
    ifindex,
    execStart: [`/usr/bin/${unit}`],
    path: `etc/systemd/system/${unit}.d/50-vrf-host-vrf.conf`,
    createdDir: true,
  });

  it('round-trip through state.json; a record that is not one is refused, naming the field', async () => {
    const root = await tmp();
    const services = [placed('chrony.service', 'public', 7)];
    const w = { application: null, units: [], desired: null, ledger: withServices(ledger, services), applying: false };
    await writeState(root, w);
    expect((await readState(root))!.ledger.services).toEqual(services);
    const text = (await readFile(join(root, PATHS.state), 'utf8')).replace('"ifindex": 7', '"ifindex": 0');
    expect(() => parseState(text, 'state.json')).toThrow(/corrupt at ledger\.services\.0\.ifindex/);
  });

  it('withServices writes the field only when there are records (a ledger without is what older versions wrote)', () => {
    expect(withServices(ledger, [])).not.toHaveProperty('services');
    expect(withServices(withServices(ledger, [placed('a.service', 'x', 3)]), [])).toEqual(ledger);
  });

  it('the write-ahead union keeps a unit being released and takes the new record of a unit that stays', () => {
    const before = withServices(ledger, [placed('a.service', 'storage', 3), placed('b.service', 'storage', 3)]);
    const after = withServices(ledger, [placed('a.service', 'public', 4)]);
    expect(unionLedger(before, after).services).toEqual([
      placed('a.service', 'public', 4),
      placed('b.service', 'storage', 3),
    ]);
    expect(unionLedger(ledger, ledger)).not.toHaveProperty('services');
  });
});

describe('ledger union (write-ahead)', () => {
  it('keeps everything either ledger owns; the earliest sysctl value wins', () => {
    const after: Ledger = {
      vrfs: { storage: 1001, tenant: 1003 },
      migratedRoutes: [route('10.30.0.0/16'), route('10.40.0.0/16')],
      migratedRules: [],
      localRuleMoved: false,
      sysctlsBefore: { 'net.ipv4.tcp_l3mdev_accept': '1', 'net.ipv4.udp_l3mdev_accept': '0' },
      ownedRules: [
        { family: 'inet', priority: 99, src: '10.10.4.23/32', table: 1001 },
        { family: 'inet', priority: 99, src: '10.10.9.23/32', table: 1003 },
      ],
    };
    const u = unionLedger(ledger, after);
    expect(u.ownedRules.map((r) => r.src)).toEqual(['10.10.4.23/32', '10.10.9.23/32']);
    expect(u.vrfs).toEqual({ storage: 1001, public: 1002, tenant: 1003 });
    expect(u.migratedRoutes.map((r) => r.dst)).toEqual(['10.30.0.0/16', '10.40.0.0/16']);
    expect(u.migratedRules).toHaveLength(1);
    expect(u.localRuleMoved).toBe(true);
    expect(u.sysctlsBefore).toEqual({
      'net.ipv4.tcp_l3mdev_accept': '0',
      'net.ipv4.ip_nonlocal_bind': null,
      'net.ipv4.udp_l3mdev_accept': '0',
    });
    expect(u).not.toHaveProperty('l3mdevRuleAdded');
  });

  it('keeps the l3mdev rule families either ledger brought (so a crash mid-apply still lets teardown delete them)', () => {
    expect(unionLedger(ledger, { ...EMPTY_LEDGER, l3mdevRuleAdded: ['inet6'] }).l3mdevRuleAdded).toEqual(['inet6']);
    expect(
      unionLedger({ ...ledger, l3mdevRuleAdded: ['inet6'] }, { ...EMPTY_LEDGER, l3mdevRuleAdded: ['inet'] })
        .l3mdevRuleAdded,
    ).toEqual(['inet', 'inet6']);
  });
});

describe('rt_tables.d', () => {
  it('writes ID NAME lines sorted by id', () => {
    expect(renderRtTables({ storage: 1002, public: 1001 })).toBe(
      '# Managed by vrf-host: one table per VRF. Removed when vrf-host is removed.\n1001 public\n1002 storage\n',
    );
    expect(renderRtTables({})).toBeNull();
    expect(() => renderRtTables({ 'a b': 5 })).toThrow(StateFileError);
  });
});
