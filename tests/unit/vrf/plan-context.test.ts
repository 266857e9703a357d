import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { KernelModelError } from '../../../src/vrf/model.js';
import { PlanContext, PlanError, SubnetSet } from '../../../src/vrf/plan/context.js';
import { plan } from '../../../src/vrf/plan.js';
import type { Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER } from '../../../src/vrf/types.js';
import { desired, dvrf } from './arbitraries.js';
import { addr, host, nic } from './builders.js';

/** The error `f` throws (the test fails if it throws none). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, none was thrown');
}

/** Is `cidr` equal to or inside `outer`? ipaddr.js's answer, the reference for SubnetSet. */
function within(cidr: string, outer: string): boolean {
  const [ip, len] = ipaddr.parseCIDR(cidr);
  const [net, outerLen] = ipaddr.parseCIDR(outer);
  return ip.kind() === net.kind() && outerLen <= len && ip.match(net, outerLen);
}

// A small address space, so that random subnets and prefixes often nest.
const v4 = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 32 }))
  .map(([c, d, len]) => ipaddr.IPv4.networkAddressFromCIDR(`10.0.${c}.${d}/${len}`).toString() + `/${len}`);
const v6 = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 96, max: 128 }))
  .map(
    ([c, d, len]) =>
      ipaddr.IPv6.networkAddressFromCIDR(`2001:db8::${c}:${d.toString(16)}/${len}`).toString() + `/${len}`,
  );
const cidr = fc.oneof(v4, v6);

describe('plan context: SubnetSet', () => {
  it('covers a prefix exactly when it equals or lies inside one of the subnets added, in its own family', () => {
    fc.assert(
      fc.property(fc.array(cidr, { maxLength: 6 }), cidr, (subnets, q) => {
        const s = new SubnetSet();
        for (const n of subnets) s.add(n);
        expect(s.covers(q)).toBe(subnets.some((n) => within(q, n)));
      }),
      { numRuns: 300 },
    );
  });

  it('ignores what is not a prefix, and never covers one', () => {
    const s = new SubnetSet();
    s.add('not-a-prefix');
    s.add('10.0.0.0/8');
    expect(s.covers('10.1.2.3/32')).toBe(true);
    expect(s.covers('not-a-prefix')).toBe(false);
    expect(s.covers('2001:db8::1/128')).toBe(false);
  });
});

describe('plan context: what the planner refuses', () => {
  const h = host(nic('ens4'), addr('ens4', '10.10.4.23/24'));

  it('refuses a device that two VRFs both claim, naming it and both VRFs', () => {
    const a = dvrf('storage', { table: 1001, members: { ens4: ['10.10.4.23/24'] } });
    const b = dvrf('backup', { table: 1002, members: { ens4: ['10.10.4.23/24'] } });
    const e = thrown(() => plan(desired([a, b]), h, EMPTY_LEDGER));
    expect(e).toBeInstanceOf(PlanError);
    expect(e).toMatchObject({ name: 'PlanError', message: 'interface ens4 is a member of both storage and backup' });
  });

  it('takes a member listed twice by one VRF (a hand-edited state file) as one member, not as a conflict', () => {
    const once = dvrf('storage', { table: 1001, members: { ens4: ['10.10.4.23/24'] } });
    const twice = { ...once, members: ['ens4', 'ens4'] };
    const steps = plan(desired([twice]), h, EMPTY_LEDGER).steps;
    expect(steps).toEqual(plan(desired([once]), h, EMPTY_LEDGER).steps);
    expect(steps.filter((s) => s.kind === 'enslave')).toHaveLength(1);
  });

  it('calls a step the kernel model refuses a planner bug, a PlanError whose cause is the model error', () => {
    const ctx = new PlanContext(desired([]), h, EMPTY_LEDGER);
    const del: Step = {
      kind: 'route-del',
      route: { family: 'inet', type: 'unicast', dst: '10.99.0.0/16', dev: 'ens4', table: 254 },
      why: 'test',
    };
    const caught = thrown(() => ctx.emit(del));
    expect(caught).toBeInstanceOf(PlanError);
    expect((caught as PlanError).message).toMatch(/^internal: planned step route-del cannot run: RTNETLINK answers/);
    expect((caught as PlanError).cause).toBeInstanceOf(KernelModelError);
    expect(ctx.steps).toEqual([]);
  });

  it('lets any other error through as it is (only a refused step is called a planner bug)', () => {
    const ctx = new PlanContext(desired([]), h, EMPTY_LEDGER);
    const unknown = { kind: 'no-such-kind', why: 'test' } as unknown as Step;
    expect(() => ctx.emit(unknown)).toThrow(TypeError);
  });
});
