/**
 * The lock for real: flock(2) on a temp file, contended by separate processes.
 */
import { build } from 'esbuild';
import { execa } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { acquireLock, lockPath, LockTimeoutError } from '../../../src/vrf/lock.js';

let work: string;
let holder: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vrf-lock-'));
  // A plain node program that takes the lock through our module, says so, holds it for argv[3] ms.
  const entry = join(work, 'holder.ts');
  await writeFile(
    entry,
    `import { acquireLock } from ${JSON.stringify(resolve('src/vrf/lock.ts'))};
const root = process.argv[2]!; const holdMs = Number(process.argv[3]);
const lock = await acquireLock({ root, lockTimeoutSec: 10 });
process.stdout.write('locked ' + Date.now() + '\\n');
await new Promise((r) => setTimeout(r, holdMs));
const t = Date.now();
await lock.release();
process.stdout.write('released ' + t + '\\n');
`,
  );
  holder = join(work, 'holder.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: holder,
    logLevel: 'silent',
    // execa's CJS dependencies require() node builtins.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
}, 30_000);

function startHolder(root: string, holdMs: number) {
  const child = execa(process.execPath, [holder, root, String(holdMs)], { reject: false, buffer: true });
  const locked = new Promise<number>((res, rej) => {
    child.stdout!.on('data', (b: Buffer) => {
      const m = /locked (\d+)/.exec(b.toString());
      if (m) res(Number(m[1]));
    });
    child.on('exit', () => rej(new Error('holder exited before locking')));
  });
  return { child, locked };
}

async function flockProbe(root: string): Promise<number | undefined> {
  return (await execa('flock', ['-x', '-w', '0.2', lockPath(root), 'true'], { reject: false })).exitCode;
}

describe('host lock (real flock)', () => {
  it('stays held after flock(1) exits, and is released on release()', async () => {
    const root = await mkdtemp(join(work, 'r1-'));
    const lock = await acquireLock({ root, lockTimeoutSec: 5 });
    expect(await flockProbe(root)).toBe(1); // another process cannot take it
    await lock.release();
    expect(await flockProbe(root)).toBe(0);
  });

  it('a second process waits until the first releases', async () => {
    const root = await mkdtemp(join(work, 'r2-'));
    const a = startHolder(root, 700);
    await a.locked;
    const t0 = Date.now();
    const lock = await acquireLock({ root, lockTimeoutSec: 10 });
    const got = Date.now();
    await lock.release();
    const out = (await a.child).stdout as string;
    const released = Number(/released (\d+)/.exec(out)![1]);
    expect(got).toBeGreaterThanOrEqual(released);
    expect(got - t0).toBeGreaterThan(300);
  }, 20_000);

  it('gives up with LockTimeoutError after lockTimeoutSec', async () => {
    const root = await mkdtemp(join(work, 'r3-'));
    const a = startHolder(root, 3000);
    await a.locked;
    await expect(acquireLock({ root, lockTimeoutSec: 0.3 })).rejects.toThrow(LockTimeoutError);
    a.child.kill('SIGKILL');
    await a.child;
  }, 20_000);

  it('a holder killed with SIGKILL leaves the host unlocked', async () => {
    const root = await mkdtemp(join(work, 'r4-'));
    const a = startHolder(root, 60_000);
    await a.locked;
    expect(await flockProbe(root)).toBe(1);
    a.child.kill('SIGKILL');
    await a.child;
    const lock = await acquireLock({ root, lockTimeoutSec: 2 });
    await lock.release();
  }, 20_000);
});
