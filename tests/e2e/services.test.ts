/**
 * The services option through the PACKED charm's dispatch, under the hook-tool simulator, with a
 * fake `systemctl` on VRF_HOST_SYSTEMCTL (a sh script that logs its argv and answers `show` for a
 * stopped, loaded unit whose file is under VRF_HOST_ROOT): a bad entry blocks naming it and runs nothing (no systemctl, no ip
 * apply); a good entry reaches the engine (its one `systemctl show` names the unit). That the
 * unit then runs in its VRF is the unit tests' (a model of systemd) and the kernel suite's (a
 * real systemd) to prove: the recorded host here never gains the VRFs the charm applies.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSimulator, runDispatch, unpackCharm } from '../../src/ops/testing/simulator/harness.js';
import { SHOW_PROPERTIES } from '../../src/vrf/services/unit-state.js';
import { MAAS_NETWORKS, maasHost } from './fake-host.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHARM_FILE = join(ROOT, 'vrf-host.charm');

const CHRONY = '[Service]\nType=forking\nExecStart=/usr/sbin/chronyd $DAEMON_OPTS\n';

let work: string;
let charmDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vrf-host-e2e-services-'));
  charmDir = join(work, 'charm');
  await unpackCharm(CHARM_FILE, charmDir);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

/** A systemctl that logs each argv as one line and shows every unit as loaded and stopped. */
async function fakeSystemctl(dir: string): Promise<{ bin: string; log: () => Promise<string[]> }> {
  const bin = join(dir, 'systemctl');
  const logFile = join(dir, 'systemctl.log');
  const block = SHOW_PROPERTIES.map((p) => {
    const v: Partial<Record<(typeof SHOW_PROPERTIES)[number], string>> = {
      Id: '%s',
      LoadState: 'loaded',
      ActiveState: 'inactive',
      MainPID: '0',
      Type: 'simple',
      FragmentPath: '/lib/systemd/system/%s',
      DynamicUser: 'no',
      ProtectControlGroups: 'no',
      PrivateNetwork: 'no',
      Before: 'multi-user.target',
    };
    return `${p}=${v[p] ?? ''}\\n`;
  }).join('');
  await writeFile(
    bin,
    [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> '${logFile}'`,
      'if [ "$1" = show ]; then',
      '  shift 3 # show --property=… --',
      `  for u in "$@"; do printf '${block}\\n' "$u" "$u"; done`,
      'fi',
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(bin, 0o755);
  return {
    bin,
    log: async () => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => l !== ''),
  };
}

async function configChanged(services: string) {
  const base = await mkdtemp(join(work, 'run-'));
  const h = await maasHost(join(base, 'host'));
  const systemctl = await fakeSystemctl(base);
  await mkdir(join(h.root, 'lib/systemd/system'), { recursive: true });
  await writeFile(join(h.root, 'lib/systemd/system/chrony.service'), CHRONY);
  const sim = await createSimulator({
    dir: await mkdtemp(join(base, 'sim-')),
    state: {
      unit: 'vrf-host/0',
      config: { gateways: 'public=2001:db8:16::1', services },
      networks: MAAS_NETWORKS,
      relations: { 'juju-info': [{ id: 1, app: 'ubuntu', units: { 'ubuntu/0': {} } }] },
    },
  });
  try {
    const r = await runDispatch(charmDir, 'hooks/config-changed', sim, {
      env: { ...h.env, VRF_HOST_SYSTEMCTL: systemctl.bin, VRF_HOST_BOOT: '0' },
      timeout: 90_000,
    });
    const applies = (await h.ip.calls()).filter((c) => c.argv.includes('-batch') && !c.argv.includes('-json'));
    return { r, systemctl: await systemctl.log(), applies };
  } finally {
    await sim.cleanup();
  }
}

describe('the services option through dispatch', () => {
  test('a bad entry: Blocked naming it; no systemctl, no ip apply', async () => {
    const { r, systemctl, applies } = await configChanged('{chrony.service: storage, ntp@.service: public}');
    expect(r.exitCode).toBe(0);
    expect(r.record.statusHistory.at(-1)).toEqual({
      status: 'blocked',
      message: 'services: ntp@.service is a template without an instance (name one, e.g. ntp@mgmt.service)',
    });
    expect(systemctl).toEqual([]);
    expect(applies).toEqual([]);
  }, 120_000);

  test('a good entry reaches the engine: one systemctl show naming the unit, before any ip apply', async () => {
    const { r, systemctl, applies } = await configChanged('chrony.service: storage');
    expect(r.exitCode).toBe(0);
    expect(systemctl[0]).toBe(`show --property=${SHOW_PROPERTIES.join(',')} -- chrony.service`);
    expect(applies.length).toBeGreaterThan(0);
    expect(r.record.statusHistory.at(-1)?.status).not.toBe('blocked');
  }, 120_000);
});
