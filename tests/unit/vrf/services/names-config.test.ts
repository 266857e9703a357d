import fc from 'fast-check';
import YAML from 'yaml';
import { vrfNameProblem } from '../../../../src/vrf/names.js';
import { parseServicesOption, resolveServices } from '../../../../src/vrf/services/config.js';
import { unitNameProblem, UNIT_NAME_MAX } from '../../../../src/vrf/services/unit-name.js';
import { formatProblem } from '../../../../src/vrf/config.js';
import type { HeldSpace } from '../../../../src/vrf/types.js';
import { desired, dvrf } from '../arbitraries.js';

describe('unitNameProblem', () => {
  it.each(['chrony.service', 'bacula-fd.service', 'ntp@mgmt.service', 'a:b_c.d\\x2d.service', 'getty@tty1.service'])(
    'accepts %s',
    (n) => expect(unitNameProblem(n)).toBeNull(),
  );
  it.each([
    ['', 'is empty'],
    ['chrony', 'is not a service unit'],
    ['chrony.socket', 'is not a service unit'],
    ['.service', 'has no name before .service'],
    ['-x.service', "starts with '-'"],
    ['@x.service', "has no name before '@'"],
    ['ntp@.service', 'is a template without an instance'],
    ['a b.service', 'may contain only'],
    ['a/b.service', 'may contain only'],
    ['a@b@c.service', 'may contain only'],
    ['vrf-host.service', 'builds the VRFs at boot'],
    ['jujud-machine-0.service', "Juju's agent"],
    ['juju-db.service', "Juju's agent"],
    [`${'a'.repeat(UNIT_NAME_MAX - 7)}.service`, 'longer than 255'],
  ])('refuses %j (%s)', (n, why) => expect(unitNameProblem(n)).toContain(why));
  it('accepts exactly 255 characters', () => {
    expect(unitNameProblem(`${'a'.repeat(UNIT_NAME_MAX - 8)}.service`)).toBeNull();
  });
});

describe('parseServicesOption', () => {
  it('reads a mapping, sorted by unit; empty and comment-only text is no entry', () => {
    expect(parseServicesOption('{chrony.service: public, bacula-fd.service: storage}')).toEqual({
      ok: true,
      entries: [
        { unit: 'bacula-fd.service', vrf: 'storage' },
        { unit: 'chrony.service', vrf: 'public' },
      ],
    });
    expect(parseServicesOption('')).toEqual({ ok: true, entries: [] });
    expect(parseServicesOption('# none yet\n')).toEqual({ ok: true, entries: [] });
  });

  it('names every bad entry, and returns no entry at all', () => {
    const r = parseServicesOption(
      '{chrony: public, ok.service: storage, x.service: 12, y.service: Main, z.service: [a]}',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map(formatProblem)).toEqual([
      'services: chrony is not a service unit (its name must end in .service)',
      'services: x.service must name a VRF, not 12',
      "services: y.service VRF \"Main\" must be lowercase letters, digits and '-', not starting with '-'",
      'services: z.service must name a VRF, not a list',
    ]);
  });

  it.each([
    ['[a.service]', 'services: must be a mapping of unit name to VRF, not a list'],
    ['just-a-word', 'services: must be a mapping of unit name to VRF, not "just-a-word"'],
    ['{a.service: x, a.service: y}', 'services: invalid YAML at line 1: Map keys must be unique'],
    ['{a.service: "v1 v2"}', 'services: a.service VRF "v1 v2" must be lowercase'],
  ])('%j → %s', (text, msg) => {
    const r = parseServicesOption(text);
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.problems.map(formatProblem);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(msg);
  });
});

describe('resolveServices', () => {
  const storacc = dvrf('storacc', { binding: 'storage', table: 20, members: { bond0: ['10.10.4.10/24'] } });
  const pub = dvrf('public', { table: 1001, members: { 'br-ens4': ['172.16.0.10/24'] } });
  const d = desired([storacc, pub], { inMain: [{ binding: 'mgmt', reason: 'controller-path', interfaces: ['ens3'] }] });
  const held: HeldSpace[] = [
    { vrf: 'tenant', binding: 'tenant', members: ['ens7'], gateways: {}, missing: ['inet'], keptAsBefore: false },
  ];

  it('accepts entries whose VRF the desired state builds', () => {
    const entries = [
      { unit: 'a.service', vrf: 'storacc' },
      { unit: 'b.service', vrf: 'public' },
    ];
    expect(resolveServices(entries, d, held)).toEqual({ ok: true, entries });
  });

  it('says why each other entry has no VRF, naming it', () => {
    const r = resolveServices(
      [
        { unit: 'a.service', vrf: 'storage' },
        { unit: 'b.service', vrf: 'mgmt' },
        { unit: 'c.service', vrf: 'tenant' },
        { unit: 'd.service', vrf: 'nope' },
        { unit: 'e.service', vrf: 'public' },
      ],
      d,
      held,
    );
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([
      'services: a.service names the binding storage: name its VRF, storacc',
      'services: b.service names mgmt, which stays in the main table (controller-path): there is no VRF to run it in',
      'services: c.service names tenant, whose VRF is not built: no gateway found for it yet (set config gateways)',
      'services: d.service names nope, which is not a VRF of this unit (public, storacc)',
    ]);
  });
});

describe('parseServicesOption, property', () => {
  const unit = fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_.][A-Za-z0-9:_.\\-]{0,20}$/),
      fc.option(fc.stringMatching(/^[A-Za-z0-9:_.\\-]{1,10}$/), { nil: undefined }),
    )
    .map(([name, instance]) => `${name}${instance === undefined ? '' : `@${instance}`}.service`)
    .filter((u) => unitNameProblem(u) === null);
  const vrf = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/).filter((v) => vrfNameProblem(v) === null);

  it('any mapping of valid unit names to valid VRF names, written as YAML, reads back exactly (sorted by unit)', () => {
    fc.assert(
      fc.property(fc.dictionary(unit, vrf, { maxKeys: 6 }), (map) => {
        const r = parseServicesOption(YAML.stringify(map));
        const want = Object.keys(map)
          .sort()
          .map((u) => ({ unit: u, vrf: map[u] }));
        expect(r).toEqual({ ok: true, entries: want });
      }),
    );
  });
});
