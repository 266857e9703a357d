import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZodError } from 'zod';
import { namesInterface, parseIptablesSave, parseNftRuleset } from '../../../src/vrf/netfilter.js';

const fx = (f: string) => readFileSync(join(process.cwd(), 'tests/fixtures/netfilter', f), 'utf8');
const brief = (rs: ReturnType<typeof parseIptablesSave>) =>
  rs.map((r) => `${r.table} ${r.chain} in=${r.iif.join(',')} out=${r.oif.join(',')} nat=${r.nat}`);

describe('iptables-save', () => {
  it('reads each rule with its table, the interfaces it names and whether it rewrites the destination', () => {
    expect(brief(parseIptablesSave(fx('iptables-save.txt'), 'iptables-save'))).toEqual([
      'filter INPUT in=bond0 out= nat=false',
      'filter INPUT in=ens3 out= nat=false',
      'filter FORWARD in= out=br-ex+ nat=false',
      'nat PREROUTING in=bond0 out= nat=true',
    ]);
    expect(brief(parseIptablesSave(fx('ip6tables-save.txt'), 'ip6tables-save'))).toEqual([
      'filter INPUT in=bond0.105 out= nat=false',
    ]);
    expect(parseIptablesSave(fx('iptables-save.txt'), 'iptables-save')[0]!.text).toBe(
      '-A INPUT -i bond0 -p tcp -m tcp --dport 7001 -j DROP',
    );
  });

  it('reads a negated interface and ignores what is not a rule', () => {
    const r = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ! -i lo -j DROP\nCOMMIT\n', 'iptables-save');
    expect(brief(r)).toEqual(['filter INPUT in=lo out= nat=false']);
  });
});

describe('nft -j list ruleset', () => {
  it("reads nft's own tables and leaves iptables-nft's to iptables-save", () => {
    const r = parseNftRuleset(fx('nft.json'), true);
    expect(brief(r)).toEqual([
      'inet mine input in=bond0 out= nat=false',
      'inet mine input in=br-*,ens4 out= nat=false',
      'ip natty pre in=bond0 out= nat=true',
    ]);
    expect(r[2]!.text).toBe('iifname bond0 dnat');
  });

  it('reads iptables-nft tables too when iptables-save could not, its DNAT target included', () => {
    const r = parseNftRuleset(fx('nft.json'), false);
    expect(r.filter((x) => x.nat).map((x) => `${x.table} ${x.chain}`)).toEqual(['ip nat PREROUTING', 'ip natty pre']);
    expect(r).toHaveLength(8);
  });

  it('refuses JSON of another shape', () => {
    expect(() => parseNftRuleset('{"tables": []}', true)).toThrow(ZodError);
  });
});

describe('namesInterface', () => {
  it('matches a name exactly, or as a prefix with + (iptables) or * (nft)', () => {
    expect(namesInterface('bond0', 'bond0')).toBe(true);
    expect(namesInterface('bond0', 'bond0.105')).toBe(false);
    expect(namesInterface('bond+', 'bond0.105')).toBe(true);
    expect(namesInterface('br-*', 'br-ens4')).toBe(true);
    expect(namesInterface('br-*', 'ens4')).toBe(false);
  });
});
