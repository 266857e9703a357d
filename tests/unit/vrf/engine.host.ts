/**
 * A recorded host (tests/fixtures/ip/STATE) served by the fake ip, with /proc,
 * /sys and the root in temp dirs — what engine and CLI tests run against.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { defaultEngineConfig } from '../../../src/vrf/config.js';
import type { EngineDeps } from '../../../src/vrf/engine.js';
import { execaSpawn, type Spawn } from '../../../src/vrf/ip.js';
import { simulate } from '../../../src/vrf/model.js';
import { parseObserved } from '../../../src/vrf/observe.js';
import { plan } from '../../../src/vrf/plan.js';
import type { EngineInputs, ObservedHost } from '../../../src/vrf/types.js';
import { fakeIp, type FakeIp } from './ip.fake.js';

const FIX = resolve('tests/fixtures/ip');

export interface TestHost {
  readonly ip: FakeIp;
  readonly root: string;
  readonly procRoot: string;
  readonly sysRoot: string;
  /** Engine options pointing at all of the above. */
  readonly opts: { root: string; procRoot: string; sysRoot: string; ipBin: string; lockTimeoutSec: number };
  /** Serve another recorded state from now on. */
  serve(state: string): Promise<void>;
  sysctl(key: string): Promise<string>;
}

async function fx(state: string, file: string): Promise<string> {
  return (await readFile(join(FIX, state, file), 'utf8')).trim();
}

export async function responsesFor(state: string): Promise<Record<string, string>> {
  return {
    'link show': await fx(state, 'link.json'),
    'addr show': await fx(state, 'addr.json'),
    'route show table all root 0.0.0.0/0': await fx(state, 'route4.json'),
    'route show table all root ::/0': await fx(state, 'route6.json'),
    'rule show': await fx(state, 'rule4.json'),
    'route get 10.100.0.5': await fx(state, 'route-get-controller4.json'),
    'route get 2001:db8:100::5': await fx(state, 'route-get-controller6.json'),
    '-6 rule show': await fx(state, 'rule6.json'),
  };
}

export async function testHost(
  state = 'maas-host',
  o: { vrfModule?: boolean; container?: boolean; l3mdev?: boolean; ipv6Sysctls?: boolean } = {},
): Promise<TestHost> {
  const base = await mkdtemp(join(tmpdir(), 'vrf-engine-'));
  const root = join(base, 'root');
  const procRoot = join(base, 'proc');
  const sysRoot = join(base, 'sys');
  await mkdir(root, { recursive: true });
  const sysctls = JSON.parse(await fx(state, 'sysctl.json')) as Record<string, string>;
  for (const [k, v] of Object.entries(sysctls)) {
    if (o.l3mdev === false && k.includes('l3mdev')) continue;
    if (o.ipv6Sysctls === false && k.startsWith('net.ipv6.')) continue; // booted with ipv6.disable=1
    const p = join(procRoot, 'sys', ...k.split('.'));
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, `${v}\n`);
  }
  await mkdir(join(procRoot, 'sys/kernel'), { recursive: true });
  await writeFile(join(procRoot, 'sys/kernel/osrelease'), '6.1.0-56-amd64\n');
  await mkdir(join(procRoot, '1'), { recursive: true });
  await writeFile(join(procRoot, '1/environ'), o.container ? 'PATH=/bin\0container=lxc\0' : 'PATH=/bin\0');
  if (o.vrfModule !== false) await mkdir(join(sysRoot, 'module/vrf'), { recursive: true });
  else await mkdir(join(sysRoot, 'module'), { recursive: true });
  const ip = await fakeIp(await mkdtemp(join(base, 'ip-')));
  await ip.respond(await responsesFor(state));
  return {
    ip,
    root,
    procRoot,
    sysRoot,
    opts: { root, procRoot, sysRoot, ipBin: ip.bin, lockTimeoutSec: 5 },
    async serve(s) {
      await ip.respond(await responsesFor(s));
    },
    async sysctl(key) {
      return (await readFile(join(procRoot, 'sys', ...key.split('.')), 'utf8')).trim();
    },
  };
}

/** The maas-host fixture's bindings, as network-get would report them. */
export function maasInputs(config = defaultEngineConfig()): EngineInputs {
  const i = (name: string, ...cidrs: [string, string][]) => ({
    name,
    addresses: cidrs.map(([address, cidr]) => ({ address, cidr })),
  });
  const ens3 = i('ens3', ['10.0.0.10', '10.0.0.0/24'], ['2001:db8:0:1::10', '2001:db8:0:1::/64']);
  return {
    config,
    bindings: {
      'juju-info': [ens3],
      mgmt: [ens3],
      public: [i('br-ens4', ['172.16.0.10', '172.16.0.0/24'], ['2001:db8:16::10', '2001:db8:16::/64'])],
      storage: [i('bond0', ['10.10.4.10', '10.10.4.0/24'], ['2001:db8:4::10', '2001:db8:4::/64'])],
      'storage-cluster': [i('bond0.105', ['10.10.5.10', '10.10.5.0/24'])],
    },
    controllers: ['10.100.0.5'],
    netplan: {},
  };
}

/**
 * A host that takes every apply as the kernel model says (src/vrf/model.ts): the first
 * read is the recorded host; once a change batch has run, the host is read as the plan
 * of that round left it, then changed by `meddle` (another actor on the host: e.g.
 * systemd-networkd flushing a route after an enslave), which is called with the apply's
 * number (1, 2, …) when the host is next read; `initial` changes the recorded host as
 * first read. Pass `deps` and `spawn` to converge.
 */
export function modelledHost(
  meddle: (host: ObservedHost, apply: number) => ObservedHost = (h) => h,
  /** How the host differs from the recorded one when first read (e.g. a member missing). */
  initial: (host: ObservedHost) => ObservedHost = (h) => h,
): {
  deps: Partial<EngineDeps>;
  spawn: Spawn;
  applies(): number;
} {
  let current: ObservedHost | null = null;
  let pending: ObservedHost | null = null;
  let changed = false;
  let applies = 0;
  return {
    deps: {
      parseObserved: (stdout, extras) => {
        // An apply may take several change batches: the host moves on once per apply, when read again.
        if (changed && pending !== null) current = meddle(pending, ++applies);
        changed = false;
        return current ?? initial(parseObserved(stdout, extras));
      },
      plan: (d, o, l) => {
        const p = plan(d, o, l);
        pending = simulate(o, p.steps);
        return p;
      },
    },
    spawn: async (file, args, o) => {
      const r = await execaSpawn(file, args, o);
      if (args.includes('-batch') && !args.includes('-json') && r.exitCode === 0) changed = true;
      return r;
    },
    applies: () => applies,
  };
}
