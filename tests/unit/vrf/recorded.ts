/**
 * The hosts recorded on Debian's 6.1 kernel (tests/fixtures/ip/STATE: the MAAS host before
 * vrf-host, and the same host converged by hand), parsed as production parses them, and the
 * desired state that converges the one into the other.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseObserved } from '../../../src/vrf/observe.js';
import type { DerivedGateway, DesiredVrf, ObservedHost } from '../../../src/vrf/types.js';
import { OWNED_SYSCTLS } from '../../../src/vrf/types.js';
import { dvrf, gw } from './arbitraries.js';

export const FIXTURES = join(process.cwd(), 'tests/fixtures/ip');
export const readFixture = (p: string): string => readFileSync(join(FIXTURES, p), 'utf8');

/** The recorded host STATE with its recorded owned sysctls, seen from the given controllers. */
export function loadRecorded(state: string, controllers: string[] = []): ObservedHost {
  const all = JSON.parse(readFixture(`${state}/sysctl.json`)) as Record<string, string>;
  const sysctls = Object.fromEntries(OWNED_SYSCTLS.map((k) => [k, all[k] ?? null]));
  return parseObserved([readFixture(`${state}/batch.out.txt`), readFixture(`${state}/batch6.out.txt`)], {
    sysctls,
    vrfModule: true,
    container: false,
    controllers,
  });
}

/**
 * The VRFs the recorded host was converged to: public over br-ens4 (IPv6 default from RA),
 * storage over bond0, storage-cluster over bond0.105 with a static route. `publicGateway` is
 * where public's IPv4 gateway was derived from.
 */
export function recordedVrfs(publicGateway: DerivedGateway['source'] = 'config'): DesiredVrf[] {
  return [
    {
      ...dvrf('public', { table: 1001, members: { 'br-ens4': ['172.16.0.10/24', '2001:db8:16::10/64'] } }),
      gateways: { inet: gw('172.16.0.1', publicGateway), inet6: gw('fe80::1', 'ra') },
    },
    dvrf('storage', {
      table: 1002,
      members: { bond0: ['10.10.4.10/24', '2001:db8:4::10/64'] },
      gateways: ['10.10.4.1', '2001:db8:4::1'],
    }),
    dvrf('storage-cluster', {
      table: 1003,
      members: { 'bond0.105': ['10.10.5.10/24'] },
      gateways: ['10.10.5.1'],
      routes: [{ to: '10.30.0.0/16', via: '10.10.5.254', metric: 100 }],
    }),
  ];
}
