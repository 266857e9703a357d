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

describe('names ip would read as something else', () => {
  // Where ip expects a name it takes each of these as a keyword (ip-link(8), ip-route(8), ip-rule(8)).
  const KEYWORDS = [
    ...['all', 'any', 'dev', 'help', 'name', 'type', 'master', 'nomaster', 'link', 'up', 'down', 'vrf'],
    ...['table', 'lookup', 'via', 'from', 'to', 'default', 'local', 'main', 'unspec', 'none', 'group'],
    ...['alias', 'netns', 'index', 'address', 'broadcast', 'mtu', 'txqueuelen'],
  ];
  const RESERVED = ['main', 'local', 'default', 'unspec', 'all'];
  it.each(KEYWORDS)('refuses %s as an interface name and as a VRF name, saying why', (w) => {
    expect(ifNameProblem(w)).toBe(`"${w}" would be read as an ip keyword`);
    expect(vrfNameProblem(w)).toBe(
      RESERVED.includes(w) ? `"${w}" is a reserved name` : `"${w}" would be read as an ip keyword`,
    );
  });
  it('accepts names that only contain a keyword', () => {
    for (const n of ['devs', 'uplink', 'table1', 'x-via']) {
      expect(ifNameProblem(n)).toBeNull();
      expect(vrfNameProblem(n)).toBeNull();
    }
  });
  it('refuses a VRF name with a bad character at either end', () => {
    for (const n of ['Storage', 'storage_', '_storage', 'storage.', '.storage']) {
      expect(vrfNameProblem(n)).toBe(`"${n}" must be lowercase letters, digits and '-', not starting with '-'`);
    }
  });
  it('says what is wrong in a NameError', () => {
    expect(ifNameProblem(3)).toBe('is not a string');
    expect(vrfNameProblem(null)).toBe('is not a string');
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      throw new Error('did not throw');
    };
    expect(thrown(() => assertIfName('a b'))).toMatchObject({
      name: 'NameError',
      message: `invalid interface name: "a b" contains '/', ':' or whitespace`,
    });
    expect(thrown(() => assertVrfName('123'))).toMatchObject({
      name: 'NameError',
      message: 'invalid VRF name: "123" is all digits and would be read as a table id',
    });
  });
});
