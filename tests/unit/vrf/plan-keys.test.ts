/**
 * The planner's text-level prefix predicates (plan/keys.ts) must agree with the
 * ipaddr.js-based helpers they replace on the hot path (addr.ts).
 */
import fc from 'fast-check';
import { canonicalCidr, cidrWithin, familyOfCidr, isDefaultCidr } from '../../../src/vrf/addr.js';
import { familyOfPrefix, isDefaultPrefix, isLinkLocal } from '../../../src/vrf/plan/keys.js';

const reference = (c: string): boolean => cidrWithin(c, 'fe80::/10') || cidrWithin(c, '169.254.0.0/16');

const octet = fc.integer({ min: 0, max: 255 });
const v4 = fc
  .oneof(fc.tuple(octet, octet, octet, octet), fc.tuple(fc.constant(169), fc.constantFrom(253, 254, 255), octet, octet))
  .map((o) => o.join('.'));
const v4cidr = fc.tuple(v4, fc.integer({ min: 0, max: 32 })).map(([a, l]) => canonicalCidr(`${a}/${l}`));

const group = fc.integer({ min: 0, max: 0xffff });
const v6 = fc
  .tuple(
    fc.oneof(group, fc.integer({ min: 0xfe00, max: 0xfeff }), fc.constant(0)),
    fc.array(fc.oneof(group, fc.constant(0)), { minLength: 7, maxLength: 7 }),
  )
  .map(([first, rest]) => [first, ...rest].map((g) => g.toString(16)).join(':'));
const v6cidr = fc.tuple(v6, fc.integer({ min: 0, max: 128 })).map(([a, l]) => canonicalCidr(`${a}/${l}`));

describe('plan keys: text-level prefix predicates', () => {
  it('isLinkLocal agrees with cidrWithin on canonical IPv4 and IPv6 prefixes and host addresses', () => {
    fc.assert(
      fc.property(fc.oneof(v4cidr, v6cidr, v4, v6), (c) => {
        expect(isLinkLocal(c)).toBe(reference(c));
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['fe80::/64', true],
    ['fe80::1/128', true],
    ['febf:ffff::/32', true],
    ['fec0::/10', false],
    ['fe80::/9', false],
    ['169.254.0.0/16', true],
    ['169.254.7.1/32', true],
    ['169.254.0.0/15', false],
    ['169.255.0.0/16', false],
    ['::/0', false],
    ['::ffff:169.254.1.1/128', false],
    ['10.0.0.0/8', false],
    ['fe80::5', true],
    ['169.254.1.1', true],
  ])('isLinkLocal(%s) is %s', (c, want) => {
    expect(isLinkLocal(c)).toBe(want);
    expect(reference(c)).toBe(want);
  });

  it('isDefaultPrefix and familyOfPrefix agree with addr.ts', () => {
    fc.assert(
      fc.property(fc.oneof(v4cidr, v6cidr), (c) => {
        expect(isDefaultPrefix(c)).toBe(isDefaultCidr(c));
        expect(familyOfPrefix(c)).toBe(familyOfCidr(c));
      }),
      { numRuns: 2000 },
    );
    expect(isDefaultPrefix('default')).toBe(true);
    expect(isDefaultPrefix('0.0.0.0/0')).toBe(true);
    expect(isDefaultPrefix('::/0')).toBe(true);
    expect(isDefaultPrefix('10.0.0.0/0')).toBe(true); // not canonical, but still a default: parsed
    expect(isDefaultPrefix('10.0.0.0/8')).toBe(false);
  });
});
