import {
  assertIfName,
  assertVrfName,
  ifNameProblem,
  NameError,
  validIfName,
  validVrfName,
  vrfNameProblem,
} from '../../../src/vrf/names.js';

describe('validVrfName', () => {
  it.each(['public', 'storage-cluster', 'storacc', 'vrf-1', 'a', '1a'])('accepts %s', (n) => {
    expect(validVrfName(n)).toBe(true);
    expect(assertVrfName(n)).toBe(n);
  });
  it.each([
    ['', /empty/],
    ['storage-cluster1', /longer than 15/],
    ['Public', /lowercase/],
    ['st_or', /lowercase/],
    ['-x', /lowercase/],
    ['main', /reserved/],
    ['local', /reserved/],
    ['default', /reserved/],
    ['unspec', /reserved/],
    ['all', /reserved/],
    ['123', /digits/],
    ['a b', /lowercase/],
  ])('rejects %j', (n, why) => {
    expect(validVrfName(n)).toBe(false);
    expect(vrfNameProblem(n)).toMatch(why);
    expect(() => assertVrfName(n)).toThrow(NameError);
  });
});

describe('validIfName', () => {
  it.each(['eth0', 'ens4', 'bond0', 'br-ens4', 'ens7.30', 'enp0s31f6', 'veth1a2b3c4d5e6', 'eth@x'])(
    'accepts %s',
    (n) => {
      expect(validIfName(n)).toBe(true);
      expect(assertIfName(n)).toBe(n);
    },
  );
  it.each([
    ['', /empty/],
    ['abcdefghijklmnop', /longer than 15/],
    ['a/b', /'\/'/],
    ['a:1', /':'/],
    ['a b', /whitespace/],
    ['a\tb', /whitespace/],
    ['.', /valid/],
    ['..', /valid/],
    ['-eth0', /option/],
    ['eth#0', /'#'/],
    ['eth"0', /quote/],
    ['help', /keyword/],
    ['dev', /keyword/],
  ])('rejects %j', (n, why) => {
    expect(validIfName(n)).toBe(false);
    expect(ifNameProblem(n)).toMatch(why);
    expect(() => assertIfName(n)).toThrow(NameError);
  });
  it('rejects non-strings', () => {
    expect(validIfName(3)).toBe(false);
    expect(validVrfName(null)).toBe(false);
  });
});
