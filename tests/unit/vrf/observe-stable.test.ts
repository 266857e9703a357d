import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseObserved } from '../../../src/vrf/observe.js';
import { isVolatileIpKey, stableIpJson } from '../../../src/vrf/observe/stable.js';

const FIX = join(process.cwd(), 'tests/fixtures/ip');
const read = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const extras = {
  sysctls: { 'net.ipv4.tcp_l3mdev_accept': '0' },
  vrfModule: true,
  container: false,
  controllers: ['10.100.0.5', '2001:db8:100::5'],
};

describe('stableIpJson (what the hook memo compares of ip -json)', () => {
  test.each(['maas-host', 'converged'])(
    'the recorded %s host observes the same without the volatile values',
    (state) => {
      const main = read(`${state}/batch.out.txt`);
      const six = read(`${state}/batch6.out.txt`);
      // The recordings hold bridge timers: the case the memo met on the real kernel.
      expect(main).toMatch(/"gc_timer":/);
      const stable = stableIpJson(main);
      expect(stable).not.toMatch(/_timer"|_life_time"/);
      expect(parseObserved([stable, stableIpJson(six)], extras)).toEqual(parseObserved([main, six], extras));
    },
  );

  test('two reads a few seconds apart compare equal; a real change does not', () => {
    const at = (gc: number, life: number, master?: string) =>
      JSON.stringify([
        {
          ifname: 'br-ens4',
          ...(master ? { master } : {}),
          linkinfo: { info_kind: 'bridge', info_data: { gc_timer: gc, hello_timer: 0.5, stp_state: 0 } },
        },
      ]) +
      '\n' +
      JSON.stringify([
        { ifname: 'ens3', addr_info: [{ local: '10.0.0.10', valid_life_time: life, preferred_life_time: life }] },
      ]);
    expect(stableIpJson(at(278.94, 3600))).toBe(stableIpJson(at(267.36, 3588)));
    expect(stableIpJson(at(278.94, 3600))).not.toBe(stableIpJson(at(278.94, 3600, 'public')));
  });

  test('lines that are not JSON stay as they are; the key rule', () => {
    expect(stableIpJson('Command failed -:3\n[]\n')).toBe('Command failed -:3\n[]\n');
    expect(['gc_timer', 'forward_delay_timer', 'expires', 'valid_life_time', 'stats64'].every(isVolatileIpKey)).toBe(
      true,
    );
    expect(['table', 'master', 'dst', 'priority', 'gateway', 'timer'].some(isVolatileIpKey)).toBe(false);
  });
});
