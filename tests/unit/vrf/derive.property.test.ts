import fc from 'fast-check';
import { defaultEngineConfig } from '../../../src/vrf/config.js';
import { deriveDesired } from '../../../src/vrf/derive.js';
import { plan } from '../../../src/vrf/plan.js';
import {
  EMPTY_LEDGER,
  RESERVED_TABLES,
  SPACE_ROLES,
  type BindingInterface,
  type GatewayOverride,
  type Link,
  type ObservedHost,
  type Step,
  withCycle,
} from '../../../src/vrf/types.js';
import { validIfName, validVrfName } from '../../../src/vrf/names.js';
import { foreignTables } from '../../../src/vrf/tables.js';
import { addr, bond, bridge, host, iface, nic, port, routeGet, vlan, type HostPart } from './builders.js';
import { evolveHost, type Evolution } from './arbitraries.js';
import { simulate } from '../../../src/vrf/model.js';
import { renderCommand } from '../../../src/vrf/render.js';

interface Topo {
  readonly observed: ObservedHost;
  readonly bindings: Record<string, BindingInterface[]>;
  readonly ctrlDev: string;
}

const topoArb = fc
  .record({
    nNic: fc.integer({ min: 1, max: 6 }),
    nicRole: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }),
    bondOf: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }),
    vlanOn: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
    roleDev: fc.array(fc.integer({ min: -1, max: 12 }), {
      minLength: SPACE_ROLES.length,
      maxLength: SPACE_ROLES.length,
    }),
    viaName: fc.array(fc.boolean(), { minLength: SPACE_ROLES.length, maxLength: SPACE_ROLES.length }),
    ctrl: fc.integer({ min: 0, max: 40 }),
  })
  .map((g): Topo => {
    const parts: HostPart[] = [];
    const l3: string[] = [];
    const portOf = new Map<string, string>(); // l3 device → one of its ports
    const masters = new Set<string>();
    for (let i = 0; i < g.nNic; i++) {
      const name = `ens${i}`;
      const role = g.nicRole[i] ?? 0;
      if (role === 0) {
        parts.push(nic(name));
        l3.push(name);
      } else if (role === 1) {
        const br = `br-${name}`;
        parts.push(bridge(br), port(name, br));
        l3.push(br);
        portOf.set(br, name);
      } else {
        const b = `bond${g.bondOf[i] ?? 0}`;
        if (!masters.has(b)) {
          masters.add(b);
          parts.push(bond(b));
          l3.push(b);
        }
        parts.push(port(name, b, 'bond'));
        portOf.set(b, name);
      }
    }
    g.vlanOn.forEach((v, i) => {
      const lower = l3[v % l3.length] as string;
      const name = `${lower}.${10 + i}`;
      if (l3.includes(name)) return;
      parts.push(vlan(name, lower));
      l3.push(name);
    });
    l3.forEach((dev, i) => parts.push(addr(dev, `10.${i}.0.5/24`)));
    const bindingFor = (dev: string, i: number, byPortName: boolean): BindingInterface =>
      iface(byPortName ? (portOf.get(dev) ?? dev) : dev, `10.${i}.0.5/24`);
    const bindings: Record<string, BindingInterface[]> = { 'juju-info': [bindingFor(l3[0] as string, 0, false)] };
    SPACE_ROLES.forEach((role, r) => {
      const d = g.roleDev[r] ?? -1;
      if (d < 0) return;
      const i = d % l3.length;
      bindings[role] = [bindingFor(l3[i] as string, i, g.viaName[r] ?? false)];
    });
    const all = host(parts);
    const names = all.links.map((l) => l.name).sort();
    const ctrlDev = names[g.ctrl % names.length] as string;
    return { observed: host(parts, routeGet('192.0.2.10', ctrlDev)), bindings, ctrlDev };
  });

/**
 * Independent oracle: the egress device, its bridge/bond masters, the ports under a bridge or
 * bond on the path, and VLAN lower devices: every device whose down/up would cycle the path.
 */
function protectedDevs(links: readonly Link[], dev: string): Set<string> {
  const by = new Map(links.map((l) => [l.name, l]));
  const out = new Set<string>();
  const todo = [dev];
  while (todo.length) {
    const d = todo.pop() as string;
    if (out.has(d)) continue;
    out.add(d);
    const l = by.get(d);
    if (l?.master) todo.push(l.master);
    if (l?.lower) todo.push(l.lower);
    if (l?.kind === 'bridge' || l?.kind === 'bond') for (const p of links) if (p.master === d) todo.push(p.name);
  }
  return out;
}

/** A config gateway for each space subnet `10.i.0.0/24` whose bit is set in `known` (the others have none). */
function gatewaysFor(known: number): GatewayOverride[] {
  return Array.from({ length: 16 }, (_, i) => i)
    .filter((i) => (known >> i) & 1)
    .map((i) => ({ key: `10.${i}.0.0/24`, keyKind: 'cidr', family: 'inet', address: `10.${i}.0.1` }));
}

describe('property: on random topologies the controller path is never a member', () => {
  it('holds, and no bridge port or bond slave is ever a member', () => {
    let built = 0;
    fc.assert(
      fc.property(topoArb, (t) => {
        const config = { ...defaultEngineConfig(), gateways: gatewaysFor(0xffff) };
        const r = deriveDesired(
          { config, bindings: t.bindings, controllers: ['192.0.2.10'], netplan: {} },
          t.observed,
          EMPTY_LEDGER,
        );
        if (!r.ok) return;
        const members = r.desired.vrfs.flatMap((v) => v.members);
        built += members.length;
        const prot = protectedDevs(t.observed.links, t.ctrlDev);
        for (const m of members) {
          expect(prot.has(m)).toBe(false);
          const link = t.observed.links.find((l) => l.name === m);
          expect(link?.master ?? null).toBeNull();
        }
        // No interface in two VRFs.
        expect(new Set(members).size).toBe(members.length);
        // Every binding whose device is on the path is reported in main.
        for (const m of r.desired.inMain.filter((x) => x.reason === 'controller-path')) {
          expect(m.interfaces.some((i) => prot.has(i))).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
    // The property must have been exercised on real VRFs, not only on rejected inputs.
    expect(built).toBeGreaterThan(100);
  });
});

function permute<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let x = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('property: derivation is deterministic and its output well-formed', () => {
  it('same result for any order of the observed host and bindings; valid names, unique free tables', () => {
    fc.assert(
      fc.property(topoArb, fc.integer({ min: 1, max: 1 << 30 }), (t, seed) => {
        const inputs = {
          config: defaultEngineConfig(),
          bindings: t.bindings,
          controllers: ['192.0.2.10'],
          netplan: {},
        };
        const r = deriveDesired(inputs, t.observed, EMPTY_LEDGER);
        const shuffled: ObservedHost = {
          ...t.observed,
          links: permute(t.observed.links, seed),
          addrs: permute(t.observed.addrs, seed + 1),
        };
        const b = Object.fromEntries(permute(Object.entries(t.bindings), seed + 2));
        expect(deriveDesired({ ...inputs, bindings: b }, shuffled, EMPTY_LEDGER)).toEqual(r);
        if (!r.ok) {
          expect(r.problems.length).toBeGreaterThan(0);
          return;
        }
        const foreign = foreignTables(t.observed, EMPTY_LEDGER);
        const tables = r.desired.vrfs.map((v) => v.table);
        expect(new Set(tables).size).toBe(tables.length);
        for (const v of r.desired.vrfs) {
          expect(validVrfName(v.name)).toBe(true);
          expect(RESERVED_TABLES).not.toContain(v.table);
          expect(foreign.has(v.table)).toBe(false);
          for (const m of v.members) expect(validIfName(m)).toBe(true);
        }
        expect(r.desired.vrfs.map((v) => v.name)).toEqual([...r.desired.vrfs.map((v) => v.name)].sort());
      }),
      { numRuns: 200 },
    );
  });
});

/** Everything a step names: devices, VRFs, addresses (the route's gateway, the rule's source). */
function namesOf(s: Step): string[] {
  switch (s.kind) {
    case 'vrf-create':
    case 'vrf-replace':
    case 'vrf-delete':
      return [s.name];
    case 'link-up':
    case 'link-down':
      return [s.dev];
    case 'enslave':
    case 'release':
      return [s.dev, s.vrf];
    case 'route-add':
    case 'route-del':
      return [s.route.dev ?? '', s.route.gateway ?? '', s.route.dst];
    case 'rule-add':
    case 'rule-del':
      return [s.rule.src ?? ''];
    case 'sysctl':
    case 'networkd-write':
    case 'networkd-remove':
      return [];
  }
}

describe('property: a space whose gateway is unknown gets no step at all', () => {
  it('its VRF, members and addresses appear in no planned step; the spaces with a gateway are built', () => {
    let heldSeen = 0;
    let builtBeside = 0;
    fc.assert(
      fc.property(topoArb, fc.integer({ min: 0, max: 0xffff }), (t, known) => {
        const config = { ...defaultEngineConfig(), gateways: gatewaysFor(known) };
        const r = deriveDesired(
          { config, bindings: t.bindings, controllers: ['192.0.2.10'], netplan: {} },
          t.observed,
          EMPTY_LEDGER,
        );
        if (!r.ok) return;
        for (const v of r.desired.vrfs)
          for (const a of v.addresses) expect((known >> Number(a.address.split('.')[1])) & 1).toBe(1);
        if (r.held.length === 0) return;
        heldSeen++;
        if (r.desired.vrfs.length > 0) builtBeside++;
        const steps = plan(r.desired, t.observed, EMPTY_LEDGER).steps;
        const touched = new Set(steps.flatMap(namesOf));
        for (const h of r.held) {
          expect(r.desired.inMain).toContainEqual({ binding: h.binding, reason: 'no-gateway', interfaces: h.members });
          expect(touched.has(h.vrf)).toBe(false);
          for (const m of h.members) {
            expect(touched.has(m)).toBe(false);
            for (const a of t.observed.addrs.filter((x) => x.dev === m)) {
              expect([...touched].some((n) => n.startsWith(`${a.address}/`) || n === a.address)).toBe(false);
            }
          }
        }
      }),
      { numRuns: 400 },
    );
    expect(heldSeen).toBeGreaterThan(50);
    expect(builtBeside).toBeGreaterThan(20);
  });
});

describe('property: a space whose gateway is unknown gets no step at all, on hosts that already carry VRFs', () => {
  /**
   * A host as a first apply left it (all of it, part of it, or all of it and then some of its
   * routes and rules deleted by hand: arbitraries.ts evolveHost), and what has changed since:
   * the gateways known, roles unbound, roles bound to another device.
   */
  const evolvedTopo = fc.record({
    t: topoArb,
    /** The gateways known at the first apply, and now. */
    known: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })),
    unbound: fc.array(fc.boolean(), { minLength: SPACE_ROLES.length, maxLength: SPACE_ROLES.length }),
    /** Per role, an index into the host's addresses whose device it is bound to now, or none (negative). */
    moved: fc.array(fc.integer({ min: -6, max: 12 }), {
      minLength: SPACE_ROLES.length,
      maxLength: SPACE_ROLES.length,
    }),
    how: fc.constantFrom<Evolution>('converged', 'partial', 'drifted'),
    cut: fc.nat(),
    drop: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
  });

  const inputs = (known: number, bindings: Record<string, BindingInterface[]>) => ({
    config: { ...defaultEngineConfig(), gateways: gatewaysFor(known) },
    bindings,
    controllers: ['192.0.2.10'],
    netplan: {},
  });

  it('held now: nothing of it is built; a VRF built for it before changes only as the last apply had it', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(evolvedTopo, ({ t, known, unbound, moved, how, cut, drop }) => {
        const r1 = deriveDesired(inputs(known[0], t.bindings), t.observed, EMPTY_LEDGER);
        if (!r1.ok || r1.desired.vrfs.length === 0) return;
        const { observed, ledger } = evolveHost(
          t.observed,
          plan(r1.desired, t.observed, EMPTY_LEDGER),
          how,
          cut,
          drop,
          false,
        );
        const now = Object.fromEntries(
          Object.entries(t.bindings).flatMap(([role, b]) => {
            const r = SPACE_ROLES.indexOf(role as (typeof SPACE_ROLES)[number]);
            if (r >= 0 && unbound[r] === true) return [];
            const a =
              r >= 0 && (moved[r] ?? -1) >= 0 ? t.observed.addrs[moved[r]! % t.observed.addrs.length] : undefined;
            return [[role, a === undefined ? b : [iface(a.dev, `${a.address}/${a.prefixlen}`)]]];
          }),
        );
        const r2 = deriveDesired(inputs(known[1], now), observed, ledger, r1.desired);
        if (!r2.ok) return;
        const steps = plan(r2.desired, observed, ledger).steps;
        const end = simulate(observed, steps, { hadVrf: true });
        const addrsOf = (devs: readonly string[]): string[] =>
          observed.addrs.filter((a) => devs.includes(a.dev)).map((a) => a.address);
        const naming = (names: ReadonlySet<string>): Step[] =>
          steps.filter((st) => namesOf(st).some((n) => names.has(n.split('/')[0]!)));
        for (const h of r2.held) {
          const kept = h.keptAsBefore ? r2.desired.vrfs.find((v) => v.name === h.vrf) : undefined;
          expect(h.keptAsBefore).toBe(kept !== undefined);
          seen.add(`${how} ${h.keptAsBefore ? 'kept' : 'in main'}`);
          // Its devices (those not in the VRF kept for it) are not built: no VRF of its own, none
          // enslaved, and at the end in no VRF, with no rule of vrf-host's for their addresses. (What
          // they had of a VRF that is no longer wanted goes with that VRF.)
          const fresh = h.members.filter((m) => !(kept?.members ?? []).includes(m));
          const freshAddrs = addrsOf(fresh);
          if (kept === undefined)
            expect(steps.filter((st) => st.kind === 'vrf-create' && st.name === h.vrf)).toEqual([]);
          expect(steps.filter((st) => st.kind === 'enslave' && fresh.includes(st.dev))).toEqual([]);
          expect(end.links.filter((l) => fresh.includes(l.name) && l.master !== null).map((l) => l.name)).toEqual([]);
          expect(
            end.rules.filter((r) => [r.src, r.dst].some((x) => x !== null && freshAddrs.includes(x.split('/')[0]!))),
          ).toEqual([]);
          if (kept === undefined) continue;
          // The VRF kept for it: each step about it (but what a cycle of another device puts back)
          // is one the plan of the first desired state makes too: drift healed, an interrupted apply
          // finished, nothing new (and on a converged host nothing at all).
          const was = new Set(plan(r1.desired, observed, ledger).steps.map(renderCommand));
          const about = naming(new Set([h.vrf, ...kept.members, ...addrsOf(kept.members)]));
          expect(about.filter((st) => !withCycle(st) && !was.has(renderCommand(st))).map(renderCommand)).toEqual([]);
          if (how === 'converged') expect(about.filter((st) => !withCycle(st)).map(renderCommand)).toEqual([]);
        }
      }),
      { numRuns: 1000 },
    );
    // Not vacuous: held spaces kept and in main, on every kind of evolved host.
    expect([...seen].sort()).toEqual(
      ['converged', 'drifted', 'partial'].flatMap((how) => [`${how} in main`, `${how} kept`]).sort(),
    );
  });
});
