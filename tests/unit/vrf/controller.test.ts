/**
 * The controller path with a DHCP lease (or RA) default in main through a space's member
 * (src/vrf/controller.ts): on random metrics and routes, the lease never makes that space the
 * controller path while something else reaches the controller, never takes apart a VRF
 * vrf-host already built, and the controller stays reachable once the desired state is built.
 */
import fc from 'fast-check';
import { cidrContains } from '../../../src/vrf/addr.js';
import { defaultEngineConfig } from '../../../src/vrf/config.js';
import { deriveDesired } from '../../../src/vrf/derive.js';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { EMPTY_LEDGER, type Ledger, type ObservedHost, type Route } from '../../../src/vrf/types.js';
import { addr, connected, host, iface, nic, port, route, routeGet, vrf, type HostPart } from './builders.js';

const CONTROLLER = '192.0.2.10';

interface Case {
  /** mgmt's own default route (metric), or none (e.g. its own lease lapsed). */
  readonly mgmtDefault: number | null;
  /** The lease's default through storage's NIC (metric), or none. */
  readonly leaseDefault: number | null;
  /** A static route to the controller's /24 through storage (someone routes the controller there). */
  readonly specificViaStorage: boolean;
  /** storage's NIC is already in vrf-host's VRF `storage`. */
  readonly built: boolean;
}

/** The kernel's main-table lookup: longest prefix, then lowest metric. */
function lookup(routes: readonly Route[], ip: string): Route | undefined {
  const m = routes.filter((r) => r.table === 254 && r.type === 'unicast' && r.dev !== null && cidrContains(r.dst, ip));
  const len = (r: Route) => Number(r.dst.split('/')[1]);
  return m.sort((a, b) => len(b) - len(a) || (a.metric ?? 0) - (b.metric ?? 0))[0];
}

function hostOf(c: Case): { observed: ObservedHost; ledger: Ledger } {
  const parts: HostPart[] = [
    nic('ens3'),
    addr('ens3', '10.0.0.10/24'),
    connected('ens3', '10.0.0.10/24'),
    addr('ens5', '10.10.4.10/24'),
  ];
  if (c.built)
    parts.push(vrf('storage', 1002), port('ens5', 'storage', 'vrf'), connected('ens5', '10.10.4.10/24', 1002));
  else parts.push(nic('ens5'), connected('ens5', '10.10.4.10/24'));
  if (c.mgmtDefault !== null)
    parts.push(route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', metric: c.mgmtDefault }));
  if (c.leaseDefault !== null)
    parts.push(route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens5', metric: c.leaseDefault, protocol: 'dhcp' }));
  if (c.specificViaStorage) parts.push(route({ dst: '192.0.2.0/24', gateway: '10.10.4.1', dev: 'ens5' }));
  const h0 = host(parts);
  const via = lookup(h0.routes, CONTROLLER);
  const observed = host(parts, routeGet(CONTROLLER, via?.dev ?? null, via?.gateway ?? null));
  const ledger: Ledger = c.built ? { ...EMPTY_LEDGER, vrfs: { storage: 1002 } } : EMPTY_LEDGER;
  return { observed, ledger };
}

const caseArb = fc.record({
  mgmtDefault: fc.option(fc.integer({ min: 0, max: 2048 }), { nil: null }),
  leaseDefault: fc.option(fc.integer({ min: 0, max: 2048 }), { nil: null }),
  specificViaStorage: fc.boolean(),
  built: fc.boolean(),
});

function derive(c: Case) {
  const { observed, ledger } = hostOf(c);
  const r = deriveDesired(
    {
      // storage's router is known (a space without one is held back whatever its route to the controller).
      config: {
        ...defaultEngineConfig(),
        gateways: [{ key: 'storage', keyKind: 'name', family: 'inet', address: '10.10.4.1' }],
      },
      bindings: {
        'juju-info': [iface('ens3', '10.0.0.10/24')],
        storage: [iface('ens5', '10.10.4.10/24')],
      },
      controllers: [CONTROLLER],
      netplan: {},
    },
    observed,
    ledger,
  );
  return { r, observed, ledger };
}

describe('property: a lease default through a member is not the controller path', () => {
  it('storage stays a VRF while something else reaches the controller, or once built; the controller stays reachable', () => {
    const seen = { vrfOverLease: 0, keptInMain: 0, keptBuilt: 0 };
    fc.assert(
      fc.property(caseArb, (c) => {
        const { r, observed, ledger } = derive(c);
        const before = lookup(observed.routes, CONTROLLER);
        if (before === undefined) {
          // No route to the controller at all: fail safe, nothing is applied.
          expect(r.ok).toBe(false);
          return;
        }
        if (!r.ok) throw new Error(JSON.stringify(r.problems));
        const isVrf = r.desired.vrfs.some((v) => v.name === 'storage');
        const fallback = c.mgmtDefault !== null && !c.specificViaStorage;
        if (c.built) {
          // Never taken apart for a route through its member.
          expect(isVrf).toBe(true);
          if (before?.dev === 'ens5') seen.keptBuilt++;
        } else if (fallback) {
          expect(isVrf).toBe(true);
          if (before?.dev === 'ens5') seen.vrfOverLease++;
        } else if (before?.dev === 'ens5') {
          // Only storage reaches the controller: it stays in main, as the controller path.
          expect(isVrf).toBe(false);
          expect(r.desired.inMain).toContainEqual({
            binding: 'storage',
            reason: 'controller-path',
            interfaces: ['ens5'],
          });
          seen.keptInMain++;
        }
        // Build it: the controller is reachable afterwards whenever it was before.
        const after = simulate(observed, plan(r.desired, observed, ledger).steps);
        expect(lookup(after.routes, CONTROLLER)).toBeDefined();
      }),
      { numRuns: 500 },
    );
    // Every branch was exercised with the kernel really picking the lease.
    expect(seen.vrfOverLease).toBeGreaterThan(10);
    expect(seen.keptInMain).toBeGreaterThan(10);
    expect(seen.keptBuilt).toBeGreaterThan(10);
  });

  it('protects the fallback: mgmt becomes the controller path when the lease wins the lookup', () => {
    const { r } = derive({ mgmtDefault: 100, leaseDefault: 10, specificViaStorage: false, built: false });
    expect(r.ok && r.desired.vrfs.map((v) => [v.name, v.members])).toEqual([['storage', ['ens5']]]);
  });
});
