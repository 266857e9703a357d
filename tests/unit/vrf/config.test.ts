import { DEFAULT_CONFIG_RAW, defaultEngineConfig, formatProblem, parseEngineConfig } from '../../../src/vrf/config.js';
import type { EngineConfig, Problem } from '../../../src/vrf/types.js';

function ok(raw: Record<string, unknown>): EngineConfig {
  const r = parseEngineConfig(raw);
  if (!r.ok) throw new Error(`expected ok, got ${r.problems.map(formatProblem).join('; ')}`);
  return r.config;
}
function bad(raw: Record<string, unknown>): string[] {
  const r = parseEngineConfig(raw);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map((p: Problem) => formatProblem(p));
}

describe('parseEngineConfig: defaults', () => {
  it('gives automatic mode with every remedy on', () => {
    expect(defaultEngineConfig()).toEqual({
      vrfs: null,
      services: [],
      gateways: [],
      tableRange: { min: 1001, max: 5000 },
      excludeInterfaces: [],
      spaceRoutes: [],
      options: {
        strict: true,
        moveLocalRule: true,
        preserveReachability: true,
        nonlocalBind: true,
        l3mdevAccept: true,
      },
      allowForwarding: false,
    });
    expect(ok({ 'allow-forwarding': 'true' }).allowForwarding).toBe(true);
  });
  it('treats missing and null keys as defaults and ignores other options', () => {
    expect(ok({ 'heal-drift': false, 'dry-run': true, strict: null })).toEqual(defaultEngineConfig());
  });
  it('takes booleans as JSON booleans or as strings', () => {
    const c = ok({ strict: 'false', 'move-local-rule': false, 'nonlocal-bind': 'TRUE', 'l3mdev-accept': ' false ' });
    expect([c.options.strict, c.options.moveLocalRule, c.options.nonlocalBind, c.options.l3mdevAccept]).toEqual([
      false,
      false,
      true,
      false,
    ]);
  });
  it('rejects other boolean spellings naming the option', () => {
    expect(bad({ strict: 'yes' })).toEqual(['strict: must be true or false, not "yes"']);
    expect(bad({ 'preserve-reachability': 1 })).toEqual(['preserve-reachability: must be true or false, not 1']);
  });
  it('refuses a document that is not a mapping (a CLI config file holding a list or a string)', () => {
    for (const raw of [['strict'], 'strict: false', null]) {
      expect(bad(raw as unknown as Record<string, unknown>)).toEqual(['config: must be a mapping of option to value']);
    }
  });
  it('exports the raw defaults', () => {
    expect(DEFAULT_CONFIG_RAW['table-range']).toBe('1001-5000');
  });
});

describe('vrfs', () => {
  it('empty string and comment-only YAML mean automatic mode', () => {
    expect(ok({ vrfs: '' }).vrfs).toBeNull();
    expect(ok({ vrfs: '  \n' }).vrfs).toBeNull();
    expect(ok({ vrfs: '# nothing\n' }).vrfs).toBeNull();
  });
  it('parses the issue example', () => {
    const vrfs = ok({
      vrfs: [
        'storacc: {binding: storage, table: 20, gateway: 10.10.4.1}',
        'storrepl:',
        '  binding: storage-cluster',
        '  gateway: [10.10.5.1, 2001:DB8:5::1]',
        '  routes: [{to: 10.30.0.1/16, via: 10.10.5.254, metric: 100}]',
      ].join('\n'),
    }).vrfs;
    expect(vrfs).toEqual({
      storacc: { binding: 'storage', table: 20, gateways: { inet: '10.10.4.1' }, routes: [] },
      storrepl: {
        binding: 'storage-cluster',
        gateways: { inet: '10.10.5.1', inet6: '2001:db8:5::1' },
        routes: [{ to: '10.30.0.0/16', via: '10.10.5.254', metric: 100 }],
      },
    });
  });
  it('accepts JSON too', () => {
    expect(ok({ vrfs: '{"pub": {"binding": "public"}}' }).vrfs).toEqual({
      pub: { binding: 'public', gateways: {}, routes: [] },
    });
  });
  it.each([
    ['storacc: {binding: storage\nfoo: [', /^vrfs: invalid YAML at line 2: /],
    ['a: {binding: x}\na: {binding: y}', /^vrfs: invalid YAML at line 2: Map keys must be unique/],
    ['x: 1\n\ty: 2', /^vrfs: invalid YAML at line 2: Tabs/],
    ['- a\n- b', /^vrfs: must be a mapping of VRF name to settings, not a list$/],
    ['just a string', /^vrfs: must be a mapping/],
  ])('invalid YAML %j', (text, msg) => {
    const p = bad({ vrfs: text });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(msg);
  });
  it.each([
    ['storacc: {binding: storage, table: 254}', 'vrfs: storacc.table 254 is reserved'],
    ['storacc: {binding: storage, table: 0}', 'vrfs: storacc.table 0 is reserved'],
    ['storacc: {binding: storage, table: 4294967296}', 'vrfs: storacc.table 4294967296 is out of range (1-4294967295)'],
    ['storacc: {binding: storage, table: 2.5}', 'vrfs: storacc.table must be an integer, not 2.5'],
    ['storacc: {binding: storage, table: "20"}', 'vrfs: storacc.table must be an integer, not "20"'],
    ['storacc: {table: 20}', 'vrfs: storacc.binding is required'],
    ['storacc: {binding: ""}', 'vrfs: storacc.binding must not be empty'],
    [
      'storacc: {binding: storage, gatway: 10.0.0.1}',
      'vrfs: storacc has unknown key "gatway" (allowed: binding, table, gateway, routes)',
    ],
    [
      'storacc: {binding: storage, routes: [{to: 10.0.0.0/8, vai: 1.2.3.4}]}',
      'vrfs: storacc.routes[0] has unknown key "vai" (allowed: to, via, metric)',
    ],
    ['storacc: storage', 'vrfs: storacc must be a mapping, not "storage"'],
    ['storacc: {binding: storage, gateway: 300.1.1.1}', 'vrfs: storacc.gateway "300.1.1.1" is not an IP address'],
    [
      'storacc: {binding: storage, gateway: [10.0.0.1, 10.0.0.2]}',
      'vrfs: storacc.gateway has more than one IPv4 address',
    ],
    [
      'storacc: {binding: storage, gateway: {a: 1}}',
      'vrfs: storacc.gateway must be an address or a list of addresses, not a mapping',
    ],
    ['storacc: {binding: storage, routes: [{to: 10.0.0.0}]}', 'vrfs: storacc.routes[0].to "10.0.0.0" is not a CIDR'],
    [
      'storacc: {binding: storage, routes: [{to: 0.0.0.0/0, via: 1.1.1.1}]}',
      'vrfs: storacc.routes[0].to the default route comes from gateway, not routes',
    ],
    [
      'storacc: {binding: storage, routes: [{to: 10.0.0.0/8, via: "2001:db8::1"}]}',
      'vrfs: storacc.routes[0].via 2001:db8::1 is not IPv4 like 10.0.0.0/8',
    ],
    [
      'storacc: {binding: storage, routes: [{to: 10.0.0.0/8, metric: -1}]}',
      'vrfs: storacc.routes[0].metric must be at least 0',
    ],
    [
      'storage-cluster-a: {binding: storage}',
      'vrfs: storage-cluster-a is not a valid VRF name: "storage-cluster-a" is longer than 15 characters',
    ],
    ['main: {binding: storage}', 'vrfs: main is not a valid VRF name: "main" is a reserved name'],
    [
      'Stor: {binding: storage}',
      "vrfs: Stor is not a valid VRF name: \"Stor\" must be lowercase letters, digits and '-', not starting with '-'",
    ],
  ])('%s → %s', (text, msg) => {
    expect(bad({ vrfs: text })).toEqual([msg]);
  });
  it('rejects duplicate tables and bindings across entries', () => {
    expect(bad({ vrfs: 'a: {binding: storage, table: 20}\nb: {binding: public, table: 20}' })).toEqual([
      'vrfs: b.table 20 is already the table of a',
    ]);
    expect(bad({ vrfs: 'a: {binding: storage}\nb: {binding: storage}' })).toEqual([
      'vrfs: b.binding storage is already the binding of a',
    ]);
  });
  it('reports every problem, not just the first', () => {
    expect(bad({ vrfs: 'a: {binding: s, table: 255}\nb: {binding: t, gateway: x}', strict: 'maybe' })).toHaveLength(3);
  });
  it('warns when a configured table is outside table-range', () => {
    const r = parseEngineConfig({ vrfs: 'a: {binding: storage, table: 20}' });
    expect(r.ok && r.warnings.map(formatProblem)).toEqual([
      'vrfs: a.table 20 is outside table-range 1001-5000 (allowed, but unusual)',
    ]);
    // Inside the range, or no table at all: no warning.
    const inside = parseEngineConfig({ vrfs: 'a: {binding: storage, table: 1500}\nb: {binding: public}' });
    expect(inside.ok && inside.warnings).toEqual([]);
  });
});

describe('gateways', () => {
  it('parses binding, VRF and CIDR keys, canonicalising', () => {
    expect(
      ok({ gateways: 'public=172.16.0.1 storage=10.10.4.1 public=2001:DB8::1 10.10.5.9/24=10.10.5.1' }).gateways,
    ).toEqual([
      { key: '10.10.5.0/24', keyKind: 'cidr', family: 'inet', address: '10.10.5.1' },
      { key: 'public', keyKind: 'name', family: 'inet', address: '172.16.0.1' },
      { key: 'public', keyKind: 'name', family: 'inet6', address: '2001:db8::1' },
      { key: 'storage', keyKind: 'name', family: 'inet', address: '10.10.4.1' },
    ]);
  });
  it.each([
    ['public=300.1.1.1', 'gateways: entry "public=300.1.1.1" is not an IP address'],
    ['public', 'gateways: entry "public" is not KEY=ADDRESS'],
    ['=1.2.3.4', 'gateways: entry "=1.2.3.4" is not KEY=ADDRESS'],
    ['public=', 'gateways: entry "public=" is not KEY=ADDRESS'],
    ['Pub!=1.2.3.4', 'gateways: entry "Pub!=1.2.3.4": key "Pub!" is not a binding name, a VRF name or a CIDR'],
    ['10.0.0.0/33=10.0.0.1', 'gateways: entry "10.0.0.0/33=10.0.0.1": key "10.0.0.0/33" is not a valid CIDR'],
    [
      '10.0.0.0/24=2001:db8::1',
      'gateways: entry "10.0.0.0/24=2001:db8::1": the address and the CIDR are of different families',
    ],
    [
      'public=1.1.1.1 public=1.1.1.2',
      'gateways: entry "public=1.1.1.2": public already has an IPv4 gateway ("public=1.1.1.1")',
    ],
  ])('%s → %s', (text, msg) => {
    expect(bad({ gateways: text })).toEqual([msg]);
  });
});

describe('table-range, exclude-interfaces, space-routes', () => {
  it('table-range', () => {
    expect(ok({ 'table-range': '100-200' }).tableRange).toEqual({ min: 100, max: 200 });
    expect(bad({ 'table-range': '200-100' })).toEqual(['table-range: "200-100": MIN is greater than MAX']);
    expect(bad({ 'table-range': 'lots' })).toEqual(['table-range: "lots" is not MIN-MAX, e.g. 1001-5000']);
    expect(bad({ 'table-range': '0-10' })).toEqual(['table-range: "0-10" must lie within 1-4294967295']);
    expect(bad({ 'table-range': '253-255' })).toEqual(['table-range: "253-255" holds only reserved tables (253-255)']);
  });
  it('exclude-interfaces: space or comma separated, validated', () => {
    expect(ok({ 'exclude-interfaces': 'ens5, br-ens4  ens5' }).excludeInterfaces).toEqual(['br-ens4', 'ens5']);
    expect(bad({ 'exclude-interfaces': 'ens5 -x' })).toEqual([
      'exclude-interfaces: "-x" starts with \'-\' and would be read as an option',
    ]);
  });
  it('space-routes', () => {
    expect(
      ok({
        'space-routes': 'storage=10.20.0.0/16 public=2001:db8:9::/48@2001:db8::fe storage=10.21.0.1/16@10.10.4.254',
      }).spaceRoutes,
    ).toEqual([
      { key: 'public', to: '2001:db8:9::/48', via: '2001:db8::fe' },
      { key: 'storage', to: '10.20.0.0/16' },
      { key: 'storage', to: '10.21.0.0/16', via: '10.10.4.254' },
    ]);
  });
  it.each([
    ['storage', 'space-routes: entry "storage" is not KEY=CIDR[@VIA]'],
    ['storage=10.0.0.1', 'space-routes: entry "storage=10.0.0.1": "10.0.0.1" is not a CIDR'],
    [
      'storage=0.0.0.0/0',
      'space-routes: entry "storage=0.0.0.0/0": the default route comes from gateways, not space-routes',
    ],
    ['storage=10.0.0.0/8@x', 'space-routes: entry "storage=10.0.0.0/8@x": via "x" is not an IP address'],
    ['storage=10.0.0.0/8@::1', 'space-routes: entry "storage=10.0.0.0/8@::1": via ::1 is not IPv4 like 10.0.0.0/8'],
    [
      'storage=10.0.0.0/8 storage=10.0.0.0/8',
      'space-routes: entry "storage=10.0.0.0/8": 10.0.0.0/8 is declared twice for storage',
    ],
  ])('%s → %s', (text, msg) => {
    expect(bad({ 'space-routes': text })).toEqual([msg]);
  });
  it('rejects non-string values for string options', () => {
    expect(bad({ vrfs: 3 })).toEqual(['vrfs: must be a string, not 3']);
    expect(bad({ gateways: { a: 1 } })).toEqual(['gateways: must be a string, not a mapping']);
    expect(bad({ strict: [true] })).toEqual(['strict: must be true or false, not a list']);
  });
});

describe('structured values (a CLI desired-state file)', () => {
  it('takes vrfs as a mapping and word options as lists', () => {
    const c = ok({
      vrfs: { storacc: { binding: 'storage', table: 20 } },
      gateways: ['storacc=10.10.4.1'],
      'exclude-interfaces': ['ens9'],
      'space-routes': ['storacc=10.20.0.0/16'],
    });
    expect(c.vrfs).toEqual({ storacc: { binding: 'storage', table: 20, gateways: {}, routes: [] } });
    expect(c.gateways).toEqual([{ key: 'storacc', keyKind: 'name', family: 'inet', address: '10.10.4.1' }]);
    expect(c.excludeInterfaces).toEqual(['ens9']);
    expect(c.spaceRoutes).toEqual([{ key: 'storacc', to: '10.20.0.0/16' }]);
  });
  it('names the entry in a structured vrfs too', () => {
    expect(bad({ vrfs: { storacc: { binding: 'storage', table: 254 } } })).toEqual([
      'vrfs: storacc.table 254 is reserved',
    ]);
    expect(bad({ vrfs: ['x'] })).toEqual(['vrfs: must be a YAML string or a mapping, not a list']);
  });
});
