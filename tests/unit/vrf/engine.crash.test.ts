/**
 * kill -9 in the middle of an apply: the host lock is released with the
 * process, and the write-ahead state still names every VRF and every migrated
 * rule, so teardown can undo the half-applied plan.
 */
import { jest } from '@jest/globals';
import { build } from 'esbuild';
import { execa } from 'execa';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { teardown } from '../../../src/vrf/engine.js';
import { acquireLock } from '../../../src/vrf/lock.js';
import { readState } from '../../../src/vrf/persist.js';
import { maasInputs, testHost } from './engine.host.js';

jest.setTimeout(90_000);

it('a converge killed with SIGKILL mid-apply leaves the lock free and a ledger teardown can use', async () => {
  const h = await testHost();
  const dir = join(h.root, '..');
  // A plain node program running the engine (no jest), as the boot unit or the kernel suite would.
  const entry = join(dir, 'converge.ts');
  await writeFile(
    entry,
    `import { converge } from ${JSON.stringify(resolve('src/vrf/engine.ts'))};
const [opts, inputs] = JSON.parse(process.argv[2]!);
const r = await converge({ ...opts, inputs, unit: 'vrf-host/0' });
process.stdout.write(JSON.stringify(r.ok));
`,
  );
  const prog = join(dir, 'converge.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: prog,
    logLevel: 'silent',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  await h.ip.hang();
  const child = execa(process.execPath, [prog, JSON.stringify([h.opts, maasInputs()])], {
    reject: false,
    detached: true,
    stdio: 'ignore',
  });
  // Wait until the change batch has started.
  const started = Date.now();
  for (;;) {
    const calls = await h.ip.calls();
    if (calls.some((c) => c.argv.includes('-batch') && !c.argv.includes('-json'))) break;
    if (Date.now() - started > 60_000) throw new Error('the apply batch never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(-child.pid!, 'SIGKILL'); // the engine and its ip
  await child;

  const lock = await acquireLock({ root: h.root, lockTimeoutSec: 2 });
  await lock.release();

  const s = (await readState(h.root))!;
  expect(s.applying).toBe(true);
  expect(s.units).toEqual(['vrf-host/0']);
  expect(s.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
  expect(s.ledger.migratedRules.map((r) => `${r.src} ${r.table}`).sort()).toEqual([
    '10.10.4.0/24 2',
    '10.10.5.0/24 3',
    '172.16.0.0/24 1',
    '2001:db8:4::/64 2',
  ]);
  expect(s.ledger.sysctlsBefore['net.ipv4.tcp_l3mdev_accept']).toBe('0');

  // Teardown on the half-applied host (here: the VRFs exist, the MAAS rules are gone).
  await rm(join(h.ip.dir, 'hang'));
  await h.serve('converged');
  const t = await teardown({ ...h.opts, unit: 'vrf-host/0' });
  expect(t.ok).toBe(true);
  const cmds = t.applied.map((a) => a.command);
  expect(cmds).toContain('ip rule add pref 100 from 172.16.0.0/24 lookup 1');
  expect(cmds).toContain('ip link del dev storage-cluster');
  expect(await readFile(join(h.procRoot, 'sys/net/ipv4/tcp_l3mdev_accept'), 'utf8')).toBe('0\n');
});
