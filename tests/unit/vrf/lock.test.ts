/**
 * The lock for real: flock(2) on a temp file, contended by separate processes.
 */
import { build } from 'esbuild';
import { execa } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProcessError } from '../../../src/vrf/ip.js';
import { acquireLock, lockPath, LockTimeoutError } from '../../../src/vrf/lock.js';

let work: string;
let holder: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vrf-lock-'));
  // A plain node program that takes the lock through our module, says so, and holds it until a
  // line arrives on its stdin (or stdin closes): the test decides when it releases, no timer.
  const entry = join(work, 'holder.ts');
  await writeFile(
    entry,
    `import { acquireLock } from ${JSON.stringify(resolve('src/vrf/lock.ts'))};
const root = process.argv[2]!;
const lock = await acquireLock({ root, lockTimeoutSec: 10 });
process.stdout.write('locked\\n');
await new Promise((r) => { process.stdin.once('data', r); process.stdin.once('end', r); });
await lock.release();
process.stdout.write('released\\n');
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

function startHolder(root: string) {
  const child = execa(process.execPath, [holder, root], { reject: false, buffer: true, stdin: 'pipe' });
  const locked = new Promise<void>((res, rej) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('locked')) res();
    });
    child.on('exit', () => rej(new Error('holder exited before locking')));
  });
  /** Tell the holder to release; resolves once it has. */
  const release = async () => {
    child.stdin.end('release\n');
    return child;
  };
  return { child, locked, release };
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
    const a = startHolder(root);
    await a.locked;
    let acquired = false;
    const waiting = acquireLock({ root, lockTimeoutSec: 10 }).then((lock) => {
      acquired = true;
      return lock;
    });
    // While the holder holds it (a third process cannot take it either), the wait has not ended.
    expect(await flockProbe(root)).toBe(1);
    expect(acquired).toBe(false);
    const done = await a.release();
    expect(done.stdout).toContain('released');
    const lock = await waiting;
    expect(acquired).toBe(true);
    await lock.release();
  }, 20_000);

  it('gives up with LockTimeoutError after lockTimeoutSec', async () => {
    const root = await mkdtemp(join(work, 'r3-'));
    const a = startHolder(root);
    await a.locked;
    await expect(acquireLock({ root, lockTimeoutSec: 0.3 })).rejects.toThrow(LockTimeoutError);
    await a.release();
  }, 20_000);

  it('a holder killed with SIGKILL leaves the host unlocked', async () => {
    const root = await mkdtemp(join(work, 'r4-'));
    const a = startHolder(root);
    await a.locked;
    expect(await flockProbe(root)).toBe(1);
    a.child.kill('SIGKILL');
    await a.child;
    const lock = await acquireLock({ root, lockTimeoutSec: 2 });
    await lock.release();
  }, 20_000);
});

describe('host lock: where it lives and how flock(1) failing shows', () => {
  it('is /run/vrf-host.lock on the real root', () => {
    expect(lockPath()).toBe('/run/vrf-host.lock');
    expect(lockPath('/tmp/x')).toBe('/tmp/x/run/vrf-host.lock');
  });

  it('a flock(1) that fails (not a timeout) is that failure, not "another run holds the lock"', async () => {
    const root = await mkdtemp(join(work, 'r-fail-'));
    // sh refuses flock's options: exit 2 with a message, which flockFd reports as a failure.
    const err = await acquireLock({ root, lockTimeoutSec: 1, flockBin: 'sh' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    expect(err).not.toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(/^`sh -x -w 1 3` failed \(exit 2\): /);
  });
});
