import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObserveError, observeBatch, parseObserved, splitJsonDocuments } from '../../../src/vrf/observe.js';
import type { ObservedHost } from '../../../src/vrf/types.js';

const FIX = join(process.cwd(), 'tests/fixtures/ip');
const read = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const extras = (controllers: string[] = []) => ({
  sysctls: { 'net.ipv4.tcp_l3mdev_accept': '0' },
  vrfModule: true,
  container: false,
  controllers,
});

/** The two processes' outputs of a recorded state, in line order. */
function recorded(state: string): string[] {
  return [read(`${state}/batch.out.txt`), read(`${state}/batch6.out.txt`)];
}

const link = (h: ObservedHost, n: string) => h.links.find((l) => l.name === n);

describe('observeBatch', () => {
  it('reads link, addr, both route families, IPv4 rules, route get per controller, and IPv6 rules last', () => {
    expect(observeBatch(['10.100.0.5', '2001:DB8:100:0::5', '10.100.0.5'])).toEqual([
      ['link', 'show'],
      ['addr', 'show'],
      ['route', 'show', 'table', 'all', 'root', '0.0.0.0/0'],
      ['route', 'show', 'table', 'all', 'root', '::/0'],
      ['rule', 'show'],
      ['route', 'get', '10.100.0.5'],
      ['route', 'get', '2001:db8:100::5'],
      ['-6', 'rule', 'show'],
    ]);
  });

  it('refuses a controller that is not an address', () => {
    expect(() => observeBatch(['10.0.0.1; reboot'])).toThrow(/not an IP address/);
  });
});

describe('splitJsonDocuments', () => {
  it('splits documents with or without separators and ignores brackets inside strings', () => {
    expect(splitJsonDocuments('[1]\n[{"a":"]["}][]  [2]')).toEqual([[1], [{ a: '][' }], [], [2]]);
  });
  it('rejects truncated output', () => {
    expect(() => splitJsonDocuments('[{"a":1}')).toThrow(/unterminated/);
  });
});

describe('parseObserved on the recorded MAAS host (Debian 6.1 kernel)', () => {
  const h = parseObserved(recorded('maas-host'), extras(['10.100.0.5', '2001:db8:100::5']));

  it('reads links with kinds, masters and lower links', () => {
    expect(link(h, 'bond0')).toMatchObject({ kind: 'bond', master: null, up: true });
    expect(link(h, 'ens5')).toMatchObject({ master: 'bond0', slaveKind: 'bond' });
    expect(link(h, 'bond0.105')).toMatchObject({ kind: 'vlan', lower: 'bond0', looseBinding: false });
    expect(link(h, 'br-ens4')).toMatchObject({ kind: 'bridge' });
    expect(link(h, 'ens4')).toMatchObject({ master: 'br-ens4', slaveKind: 'bridge' });
    expect(link(h, 'ens3')?.mac).toBe('52:54:00:12:00:03');
  });

  it('reads a VLAN’s loose_binding from its flags (it then does not cycle with its lower device)', () => {
    const [v4, v6] = recorded('maas-host');
    const loose = v4!.replace('"flags":["REORDER_HDR"]', '"flags":["REORDER_HDR","LOOSE_BINDING"]');
    expect(loose).not.toBe(v4);
    const hl = parseObserved([loose, v6!], extras(['10.100.0.5', '2001:db8:100::5']));
    expect(link(hl, 'bond0.105')?.looseBinding).toBe(true);
    expect(link(hl, 'bond0')?.looseBinding).toBe(false);
  });

  it('reads addresses of both families with their scope', () => {
    expect(h.addrs).toContainEqual({
      dev: 'bond0.105',
      family: 'inet',
      address: '10.10.5.10',
      prefixlen: 24,
      scope: 'global',
    });
    expect(h.addrs).toContainEqual({
      dev: 'bond0',
      family: 'inet6',
      address: '2001:db8:4::10',
      prefixlen: 64,
      scope: 'global',
    });
    expect(h.addrs.some((a) => a.scope === 'link' && a.address.startsWith('fe80::'))).toBe(true);
  });

  it('normalises routes: numeric tables, default as a prefix, host routes as /32, names kept', () => {
    expect(h.routes).toContainEqual({
      family: 'inet',
      table: 2,
      dst: '0.0.0.0/0',
      type: 'unicast',
      gateway: '10.10.4.1',
      dev: 'bond0',
      protocol: 'static',
      scope: 'global',
      metric: null,
      prefsrc: null,
    });
    expect(h.routes).toContainEqual(
      expect.objectContaining({ family: 'inet', table: 255, dst: '10.0.0.10/32', type: 'local', scope: 'host' }),
    );
    expect(h.routes).toContainEqual(
      expect.objectContaining({
        family: 'inet6',
        table: 254,
        dst: '::/0',
        gateway: 'fe80::1',
        dev: 'br-ens4',
        protocol: 'ra',
        metric: 1024,
      }),
    );
    expect(h.routes).toContainEqual(
      expect.objectContaining({ family: 'inet', dst: '10.30.0.0/16', gateway: '10.10.5.254', metric: 100 }),
    );
    expect(h.routes.filter((r) => r.family === 'inet6').every((r) => r.dst.includes(':'))).toBe(true);
  });

  it('reads MAAS source rules of both families', () => {
    expect(h.rules).toContainEqual({
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
      protocol: 'unspec',
    });
    expect(h.rules).toContainEqual(
      expect.objectContaining({ family: 'inet6', priority: 100, src: '2001:db8:4::/64', table: 2 }),
    );
    expect(h.rules).toContainEqual(expect.objectContaining({ family: 'inet6', priority: 0, src: null, table: 255 }));
  });

  it('reads who made each rule (ip -N prints the protocol number): the stock rules are protocol kernel, a plain ip rule add unspec', () => {
    expect(
      h.rules
        .filter((r) => r.priority === 0 || r.priority === 32766)
        .map((r) => `${r.family} ${r.priority} ${r.protocol}`),
    ).toEqual(['inet 0 kernel', 'inet 32766 kernel', 'inet6 0 kernel', 'inet6 32766 kernel']);
    expect(h.rules.filter((r) => r.priority === 100).every((r) => r.protocol === 'unspec')).toBe(true);
  });

  it('maps route get answers to the controllers', () => {
    expect(h.routeGet['10.100.0.5']).toEqual({ dev: 'ens3', gateway: '10.0.0.1' });
    expect(h.routeGet['2001:db8:100::5']?.dev).toBe('ens3');
  });

  it('passes the extras through', () => {
    expect(h.sysctls).toEqual({ 'net.ipv4.tcp_l3mdev_accept': '0' });
    expect(h.vrfModule).toBe(true);
  });
});

describe('parseObserved on the recorded converged host', () => {
  // ip prints VRF tables by the names in rt_tables.d/vrf-host.conf ("table":"public").
  const h = parseObserved(recorded('converged'), extras(['10.100.0.5']));

  it('reads VRFs and their tables, and members with slave kind vrf', () => {
    expect(link(h, 'storage-cluster')).toMatchObject({ kind: 'vrf', vrfTable: 1003, up: true });
    expect(link(h, 'bond0')).toMatchObject({ master: 'storage', slaveKind: 'vrf' });
  });

  it('maps table names that are VRF names to the VRF tables', () => {
    expect(h.routes).toContainEqual(
      expect.objectContaining({ family: 'inet', table: 1001, dst: '0.0.0.0/0', gateway: '172.16.0.1' }),
    );
    expect(h.routes).toContainEqual(
      expect.objectContaining({ family: 'inet6', table: 1002, dst: '::/0', type: 'unreachable', metric: 4278198272 }),
    );
    expect(h.rules).toContainEqual(
      expect.objectContaining({ family: 'inet', priority: 90, src: '10.10.5.10/32', table: 1003 }),
    );
    expect(h.rules).toContainEqual(
      expect.objectContaining({ family: 'inet6', priority: 90, src: '2001:db8:16::10/128', table: 1001 }),
    );
  });

  it('reads the l3mdev rule as a lookup without a table', () => {
    expect(h.rules).toContainEqual({
      family: 'inet',
      priority: 1000,
      src: null,
      dst: null,
      table: null,
      l3mdev: true,
      iif: null,
      oif: null,
      fwmark: null,
      action: 'lookup',
      protocol: 'kernel',
    });
    expect(
      h.rules
        .filter((r) => r.l3mdev)
        .map((r) => r.family)
        .sort(),
    ).toEqual(['inet', 'inet6']);
  });

  it('reads the leaks in main', () => {
    expect(h.routes).toContainEqual(
      expect.objectContaining({ table: 254, dst: '10.10.4.0/24', dev: 'storage', protocol: 'boot', scope: 'link' }),
    );
  });
});

describe('named and numeric readings of the same VRF host (the recorded states)', () => {
  const controllers = extras(['10.100.0.5', '2001:db8:100::5']);
  const named = (state: string) =>
    parseObserved([read(`${state}/batch.named.out.txt`), read(`${state}/batch6.named.out.txt`)], controllers);

  it.each(['maas-host', 'converged'])('%s: -Numeric and named output parse to the same observed host', (state) => {
    expect(parseObserved(recorded(state), controllers)).toEqual(named(state));
  });

  it('production reads numbers: the recordings are -Numeric (tables, types, protocols as numbers)', () => {
    const [main] = recorded('converged');
    expect(main).toMatch(/"table":"254"/);
    expect(main).toMatch(/"type":"7"/);
    expect(main).not.toMatch(/"table":"main"|"type":"unreachable"|"protocol":"kernel"/);
    expect(read('maas-host/batch.out.txt')).toMatch(/"protocol":"9"/);
  });

  it('maps protocol 9 to ra, type 7 to unreachable (not blackhole), and reads a via next hop', () => {
    const maas = parseObserved(recorded('maas-host'), controllers);
    expect(maas.routes).toContainEqual(
      expect.objectContaining({
        family: 'inet6',
        table: 254,
        dst: '::/0',
        protocol: 'ra',
        dev: 'br-ens4',
        gateway: 'fe80::1',
      }),
    );
    // RFC 5549: an IPv4 route whose next hop is IPv6 ("via", not "gateway").
    expect(maas.routes).toContainEqual(
      expect.objectContaining({
        family: 'inet',
        dst: '10.60.0.0/16',
        gateway: 'fe80::1',
        dev: 'bond0',
        protocol: 'static',
      }),
    );
    const conv = parseObserved(recorded('converged'), controllers);
    for (const [family, dst] of [
      ['inet', '0.0.0.0/0'],
      ['inet6', '::/0'],
    ] as const)
      expect(
        conv.routes
          .filter((r) => r.family === family && r.dst === dst && r.table === 1002)
          .map((r) => r.type)
          .sort(),
      ).toEqual(['unicast', 'unreachable']);
    expect(conv.routes.some((r) => r.type === 'blackhole')).toBe(false);
  });
});

describe('parseObserved on this machine (iproute2 6.1, network namespace)', () => {
  const numeric = parseObserved(read('ns-iproute2-6.1.numeric.out'), extras(['10.0.0.77', '2001:db8:4::99']));
  const named = parseObserved(read('ns-iproute2-6.1.named.out'), extras(['10.0.0.77', '2001:db8:4::99']));

  it('gives the same host with -Numeric and with names', () => {
    const strip = (h: ObservedHost) => ({ ...h, links: h.links.map((l) => ({ ...l, mac: null })) });
    // Link-local addresses differ between the two recordings only if the links were recreated; they were not.
    expect(strip(named)).toEqual(strip(numeric));
  });

  it('reads rules with selectors it does not model as such, never as plain lookups', () => {
    const fw = numeric.rules.find((r) => r.priority === 400);
    expect(fw).toMatchObject({ fwmark: '0x10/0xff', table: 5, action: 'lookup' });
    expect(numeric.rules.find((r) => r.priority === 403)?.action).toBe('lookup+not');
  });

  it('leaves a controller whose route get failed (ip -force) without a path', () => {
    const h = parseObserved(
      read('ns-iproute2-6.1.unreachable-controller.numeric.out'),
      extras(['198.51.100.7', '10.0.0.77']),
    );
    expect(h.routeGet['198.51.100.7']).toEqual({ dev: null, gateway: null });
    expect(h.routeGet['10.0.0.77']).toEqual({ dev: 'ens4', gateway: null });
    expect(h.rules.some((r) => r.family === 'inet6' && r.priority === 100)).toBe(true);
  });
});

describe('parseObserved on bad input', () => {
  const [main, six] = recorded('maas-host') as [string, string];

  it('names the command whose output is missing', () => {
    expect(() => parseObserved(main, extras())).toThrow(ObserveError);
    // Only the last document missing: the IPv6 rules (not the IPv4 ones read a second time).
    expect(() => parseObserved(main.split('\n').slice(0, 5).join('\n'), extras())).toThrow(
      /-6 rule show: no output \(got 5 of at least 6 JSON documents\)$/,
    );
    expect(() => parseObserved(main.split('\n').slice(0, 3).join('\n'), extras())).toThrow(
      /route show table all root ::\/0: no output/,
    );
  });

  it('names the IPv6 rule command when its output is not rules', () => {
    expect(() => parseObserved(main, extras(['10.100.0.5']))).toThrow(/-6 rule show/);
  });

  it('names the command and field of a malformed document', () => {
    const lines = main.split('\n');
    lines[2] = '[{"type":"unicast","dst":"10.0.0.0/33","table":"254"}]';
    let err: unknown;
    try {
      parseObserved([lines.join('\n'), six], extras());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ObserveError);
    expect((err as ObserveError).command).toMatch(/route show table all root 0\.0\.0\.0\/0$/);
    expect((err as Error).message).toMatch(/10\.0\.0\.0\/33/);
  });

  it('says "(top)" when the document itself is of the wrong shape (an object, not a list)', () => {
    const lines = main.split('\n');
    lines[2] = '{"type":"unicast","dst":"10.0.0.0/24","dev":"ens3"}';
    expect(() => parseObserved([lines.join('\n'), six], extras())).toThrow(/unexpected output at \(top\): \S/);
  });

  it('refuses a table name it cannot map', () => {
    const lines = main.split('\n');
    lines[2] = '[{"type":"unicast","dst":"10.0.0.0/24","dev":"ens3","table":"mystery"}]';
    expect(() => parseObserved([lines.join('\n'), six], extras())).toThrow(/table "mystery".*-Numeric/);
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseObserved('Object "-6" is unknown', extras())).toThrow(ObserveError);
    expect(() => parseObserved('Object "-6" is unknown', extras())).toThrow(
      /-batch -: output is not JSON: expected a JSON array/,
    );
  });
});
