/**
 * A replay builds what the host can hold (src/vrf/replay.ts): on random topologies with
 * some desired members gone from the host, the planner can build the rest, never names a
 * missing member, converges, and leaves the recorded desired state alone.
 */
import fc from 'fast-check';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { buildable, followedMessage, leftOutMessage } from '../../../src/vrf/replay.js';
import type { ObservedHost, Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER } from '../../../src/vrf/types.js';
import { desired as mkDesired, dvrf, scenario } from './arbitraries.js';
import { addr, host, link } from './builders.js';

/** The host without these devices (their addresses and the routes via them go with them). */
function without(h: ObservedHost, gone: ReadonlySet<string>): ObservedHost {
  return {
    ...h,
    links: h.links.filter((l) => !gone.has(l.name)),
    addrs: h.addrs.filter((a) => !gone.has(a.dev)),
    routes: h.routes.filter((r) => r.dev === null || !gone.has(r.dev)),
  };
}

const devsOf = (steps: readonly Step[]): string[] =>
  steps.flatMap((s) => {
    switch (s.kind) {
      case 'enslave':
      case 'release':
      case 'link-up':
        return [s.dev];
      case 'route-add':
      case 'route-del':
        return s.route.dev !== undefined ? [s.route.dev] : [];
      default:
        return [];
    }
  });

describe('buildable (a replay on a host with members missing)', () => {
  it('plans the rest without naming a missing member, keeps every VRF, and converges', () => {
    let exercised = 0;
    fc.assert(
      fc.property(scenario, fc.array(fc.boolean(), { maxLength: 12 }), ({ observed, desired }, drop) => {
        const members = desired.vrfs.flatMap((v) => v.members);
        const gone = new Set(members.filter((m, i) => drop[i] === true));
        const host0 = without(observed, gone);
        const b = buildable(desired, host0);
        expect(b.leftOut.map((x) => x.dev).sort()).toEqual([...gone].sort());
        expect(b.desired.vrfs.map((v) => v.name)).toEqual(desired.vrfs.map((v) => v.name));
        if (gone.size === 0) {
          expect(b.desired).toBe(desired);
          return;
        }
        exercised++;
        const p = plan(b.desired, host0, EMPTY_LEDGER);
        for (const d of devsOf(p.steps)) expect(gone.has(d)).toBe(false);
        const after = simulate(host0, p.steps);
        expect(plan(b.desired, after, p.ledger).steps).toEqual([]);
      }),
      { numRuns: 300 },
    );
    expect(exercised).toBeGreaterThan(50);
  });

  it('names each member left out and why', () => {
    const d = mkDesired([
      dvrf('storage', { table: 1002, members: { bond0: ['10.10.4.10/24'] }, gateways: ['10.10.4.1'] }),
      dvrf('public', {
        table: 1001,
        members: { ens4: ['172.16.0.10/24'], ens7: ['172.17.0.10/24'] },
        gateways: ['172.17.0.1'],
        routes: [
          { to: '10.30.0.0/16', via: '172.16.0.254' },
          { to: '10.40.0.0/16', via: '172.17.0.254' },
        ],
      }),
    ]);
    const h = host(link('ens4'), link('br-ens7', { kind: 'bridge' }), link('ens7', { master: 'br-ens7' }));
    const b = buildable(d, h);
    expect(b.leftOut).toEqual([
      { vrf: 'storage', dev: 'bond0', reason: 'does not exist on this host' },
      { vrf: 'public', dev: 'ens7', reason: 'is a port of br-ens7' },
    ]);
    expect(leftOutMessage(b.leftOut)).toBe(
      'storage: member bond0 does not exist on this host; public: member ens7 is a port of br-ens7',
    );
    const pub = b.desired.vrfs.find((v) => v.name === 'public')!;
    // Only what ens4 can carry: its address and the route via its subnet; the gateway was on ens7's.
    expect(pub.members).toEqual(['ens4']);
    expect(pub.addresses.map((a) => a.dev)).toEqual(['ens4']);
    expect(pub.gateways).toEqual({});
    expect(pub.routes).toEqual([{ to: '10.30.0.0/16', via: '172.16.0.254' }]);
    const storage = b.desired.vrfs.find((v) => v.name === 'storage')!;
    expect(storage).toMatchObject({ members: [], addresses: [], gateways: {}, routes: [] });
  });

  it('follows a member Juju bridged to its bridge when the bridge holds its addresses', () => {
    const d = mkDesired([
      dvrf('storage', {
        table: 1002,
        members: { bond0: ['10.10.4.10/24', '2001:db8:4::10/64'] },
        gateways: ['10.10.4.1'],
      }),
    ]);
    const bridged = host(
      link('br-bond0', { kind: 'bridge' }),
      link('bond0', { kind: 'bond', master: 'br-bond0', slaveKind: 'bridge' }),
      addr('br-bond0', '10.10.4.10/24'),
      addr('br-bond0', '2001:db8:4::10/64'),
    );
    const b = buildable(d, bridged);
    expect(b.leftOut).toEqual([]);
    expect(b.followed).toEqual([{ vrf: 'storage', dev: 'bond0', bridge: 'br-bond0' }]);
    expect(followedMessage(b.followed)).toBe(
      'storage: member bond0 is a port of br-bond0, which holds its addresses: br-bond0 takes its place',
    );
    const v = b.desired.vrfs[0]!;
    expect(v.members).toEqual(['br-bond0']);
    expect(v.addresses.map((a) => a.dev)).toEqual(['br-bond0', 'br-bond0']);
    expect(v.gateways.inet?.address).toBe('10.10.4.1');
    // The plan enslaves the bridge and routes through it; the port is not touched.
    const p = plan(b.desired, bridged, EMPTY_LEDGER);
    expect(devsOf(p.steps)).toContain('br-bond0');
    expect(devsOf(p.steps)).not.toContain('bond0');
    // Without every address on the bridge (one still moving), or when the bridge is another
    // VRF's member, the member is left out as before.
    const half = host(
      link('br-bond0', { kind: 'bridge' }),
      link('bond0', { kind: 'bond', master: 'br-bond0', slaveKind: 'bridge' }),
      addr('br-bond0', '10.10.4.10/24'),
    );
    expect(buildable(d, half).leftOut).toEqual([{ vrf: 'storage', dev: 'bond0', reason: 'is a port of br-bond0' }]);
    const other = mkDesired([
      ...d.vrfs,
      dvrf('public', { table: 1001, members: { 'br-bond0': ['10.10.4.10/24'] }, gateways: [] }),
    ]);
    expect(buildable(other, bridged).followed).toEqual([]);
  });
});
