/**
 * The machine the e2e tests run the packed charm against: a temporary root,
 * /proc/sys with the recorded MAAS host's sysctl values, a /sys with the vrf
 * module, and a fake `ip` (tests/unit/vrf/ip.fake.ts) answering each observe
 * line with what iproute2 6.1 printed for it on that host. Plus network-get as
 * Juju reports it there. The real-kernel proof is the kernel suite's.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { fakeIp, type FakeIp } from '../unit/vrf/ip.fake.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'tests/fixtures/ip');

const network = (dev: string, mac: string, ...addrs: [string, string][]) => ({
  'bind-addresses': [
    {
      'mac-address': mac,
      'interface-name': dev,
      addresses: addrs.map(([value, cidr]) => ({ hostname: '', value, cidr })),
    },
  ],
  'egress-subnets': addrs.map(([, c]) => c),
  'ingress-addresses': addrs.map(([a]) => a),
});
const MGMT = network(
  'ens3',
  '52:54:00:12:00:03',
  ['10.0.0.10', '10.0.0.0/24'],
  ['2001:db8:0:1::10', '2001:db8:0:1::/64'],
);

/** network-get on the recorded MAAS host (the unbound roles share the default space). */
export const MAAS_NETWORKS = {
  'juju-info': MGMT,
  mgmt: MGMT,
  internal: MGMT,
  admin: MGMT,
  tenant: MGMT,
  public: network('br-ens4', '', ['172.16.0.10', '172.16.0.0/24'], ['2001:db8:16::10', '2001:db8:16::/64']),
  storage: network('bond0', '', ['10.10.4.10', '10.10.4.0/24'], ['2001:db8:4::10', '2001:db8:4::/64']),
  'storage-cluster': network('bond0.105', '', ['10.10.5.10', '10.10.5.0/24']),
};

/** A recorded state's observe lines → what ip printed for each (the `-6` process's line too). */
export async function recordedResponses(state: 'maas-host' | 'converged'): Promise<Record<string, string>> {
  const dir = join(FIXTURES, state);
  const lines = (await readFile(join(dir, 'batch.in.txt'), 'utf8')).split('\n').filter(Boolean);
  const outs = (await readFile(join(dir, 'batch.out.txt'), 'utf8')).split('\n').filter(Boolean);
  const responses: Record<string, string> = Object.fromEntries(lines.map((l, i) => [l, outs[i] ?? '[]']));
  responses['-6 rule show'] = (await readFile(join(dir, 'batch6.out.txt'), 'utf8')).trim();
  return responses;
}

export interface E2eHost {
  readonly root: string;
  readonly proc: string;
  readonly sys: string;
  readonly ip: FakeIp;
  /** VRF_HOST_* pointing the charm at this host, and JUJU_API_ADDRESSES. */
  readonly env: Record<string, string>;
}

/** The recorded MAAS host under `base` (root/, proc/, sys/), its fake ip answering as recorded. */
export async function maasHost(
  base: string,
  apiAddresses = '10.100.0.5:17070 [2001:db8:100::5]:17070',
): Promise<E2eHost> {
  const root = join(base, 'root');
  const proc = join(base, 'proc');
  const sys = join(base, 'sys');
  const sysctls = JSON.parse(await readFile(join(FIXTURES, 'maas-host/sysctl.json'), 'utf8')) as Record<string, string>;
  for (const [key, value] of Object.entries(sysctls)) {
    const p = join(proc, 'sys', ...key.split('.'));
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, `${value}\n`);
  }
  await mkdir(join(sys, 'module/vrf'), { recursive: true });
  await mkdir(root, { recursive: true });
  const ip = await fakeIp(await mkdtemp(join(base, 'ip-')));
  await ip.respond(await recordedResponses('maas-host'));
  const { stdout: flock } = await execa('sh', ['-c', 'command -v flock']);
  const env = {
    VRF_HOST_ROOT: root,
    VRF_HOST_PROC: proc,
    VRF_HOST_SYS: sys,
    VRF_HOST_IP: ip.bin,
    VRF_HOST_FLOCK: flock.trim(),
    VRF_HOST_LOCK_TIMEOUT: '30',
    // The recorded host never changes, whatever the charm applies: reading it again after an
    // apply would find the same drift every round. The unit tests (a host that follows the kernel
    // model) and kernel scenario 16 (d) prove the re-read; here the charm applies once.
    VRF_HOST_APPLY_ROUNDS: '0',
    JUJU_API_ADDRESSES: apiAddresses,
  };
  return { root, proc, sys, ip, env };
}
