import ipaddr from 'ipaddr.js';
import fc from 'fast-check';
import {
  PrefixSet,
  canonicalCidr,
  canonicalIp,
  cidrContains,
  cidrWithin,
  compareIp,
  familyOf,
  isDefaultCidr,
  parseCidr,
  parseIp,
  sameFamily,
  subnetOf,
  tryCanonicalCidr,
  AddrError,
} from '../../../src/vrf/addr.js';

describe('parseIp', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['fe80::1', 'fe80::1'],
    ['::', '::'],
  ])('accepts %s as %s', (s, c) => {
    expect(parseIp(s)?.toString()).toBe(c);
    expect(canonicalIp(s)).toBe(c);
  });
  it.each(['', '10.1', '010.1.1.1', '1.2.3.4 ', '300.1.1.1', 'fe80::1%eth0', '10.0.0.0/24', 'abc', '1.2.3.4.5'])(
    'rejects %j',
    (s) => {
      expect(parseIp(s)).toBeNull();
      expect(() => canonicalIp(s)).toThrow(AddrError);
    },
  );
  it('gives the family', () => {
    expect(familyOf('10.0.0.1')).toBe('inet');
    expect(familyOf('::1')).toBe('inet6');
    expect(() => familyOf('x')).toThrow(/not an IP address/);
  });
});

describe('canonicalCidr', () => {
  it.each([
    ['10.1.2.3/24', undefined, '10.1.2.0/24'],
    ['2001:db8::1/64', undefined, '2001:db8::/64'],
    ['10.0.0.1', undefined, '10.0.0.1/32'],
    ['2001:db8::1', undefined, '2001:db8::1/128'],
    ['default', 'inet', '0.0.0.0/0'],
    ['default', 'inet6', '::/0'],
    ['0.0.0.0/0', undefined, '0.0.0.0/0'],
  ] as const)('%s (%s) → %s', (s, fam, c) => {
    expect(canonicalCidr(s, fam)).toBe(c);
  });
  it.each([
    ['default', undefined],
    ['10.0.0.0/33', undefined],
    ['10.0.0.0/08', undefined],
    ['10.0.0.0/24', 'inet6'],
    ['::/129', undefined],
    ['10.0.0.0/', undefined],
  ] as const)('rejects %s (%s)', (s, fam) => {
    expect(tryCanonicalCidr(s, fam)).toBeNull();
    expect(() => canonicalCidr(s, fam)).toThrow(AddrError);
  });
  it('reports prefix and network', () => {
    expect(parseCidr('172.16.5.9/20')).toEqual({
      family: 'inet',
      network: '172.16.0.0',
      prefixlen: 20,
      cidr: '172.16.0.0/20',
    });
  });
});

describe('containment', () => {
  it('cidrContains', () => {
    expect(cidrContains('10.10.4.0/24', '10.10.4.1')).toBe(true);
    expect(cidrContains('10.10.4.0/24', '10.10.5.1')).toBe(false);
    expect(cidrContains('10.10.4.0/24', '2001:db8::1')).toBe(false);
    expect(cidrContains('2001:db8::/64', '2001:db8::ffff')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '1.2.3.4')).toBe(true);
  });
  it('cidrWithin', () => {
    expect(cidrWithin('10.10.4.0/25', '10.10.4.0/24')).toBe(true);
    expect(cidrWithin('10.10.4.0/24', '10.10.4.0/24')).toBe(true);
    expect(cidrWithin('10.10.0.0/16', '10.10.4.0/24')).toBe(false);
    expect(cidrWithin('::/0', '0.0.0.0/0')).toBe(false);
  });
  it('subnetOf, sameFamily, isDefaultCidr', () => {
    expect(subnetOf('10.10.4.23', 24)).toBe('10.10.4.0/24');
    expect(subnetOf('2001:db8:5::23', 64)).toBe('2001:db8:5::/64');
    expect(() => subnetOf('10.0.0.1', 40)).toThrow(AddrError);
    expect(sameFamily('10.0.0.1', '10.0.0.0/8')).toBe(true);
    expect(sameFamily('10.0.0.1', '::1')).toBe(false);
    expect(isDefaultCidr('::/0')).toBe(true);
    expect(isDefaultCidr('default')).toBe(true);
    expect(isDefaultCidr('10.0.0.0/8')).toBe(false);
  });
  it('compareIp orders numerically, v4 before v6', () => {
    expect(['10.0.0.10', '::1', '10.0.0.9'].sort(compareIp)).toEqual(['10.0.0.9', '10.0.0.10', '::1']);
  });
  it('property: an address is always inside its own subnet, and the subnet is canonical', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        const net = subnetOf(ip, len);
        expect(cidrContains(net, ip)).toBe(true);
        expect(canonicalCidr(net)).toBe(net);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, len) => {
        const net = subnetOf(ip, len);
        expect(cidrContains(net, ip)).toBe(true);
        expect(canonicalCidr(net)).toBe(net);
      }),
    );
  });
});

describe('PrefixSet and memoisation', () => {
  it('tests addresses against several prefixes of both families', () => {
    const s = new PrefixSet(['10.10.4.0/24', '2001:db8:5::/64', 'junk']);
    expect(s.size).toBe(2);
    expect(s.contains('10.10.4.200')).toBe(true);
    expect(s.contains('10.10.5.1')).toBe(false);
    expect(s.contains('2001:db8:5::1')).toBe(true);
    expect(s.contains('2001:db8:6::1')).toBe(false);
    expect(s.contains('nonsense')).toBe(false);
  });
  it('parseIp hands out fresh objects: mutating one does not poison later answers', () => {
    const a = parseIp('10.0.0.1');
    if (!(a instanceof ipaddr.IPv4)) throw new Error('parse');
    a.octets[0] = 99;
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(cidrContains('10.0.0.0/8', '10.0.0.1')).toBe(true);
    expect(parseIp('10.0.0.1')?.toString()).toBe('10.0.0.1');
  });
});
