// Fetch Debian's stock kernel (with all its modules) into a cache directory, once.
// apt-cache depends linux-image-amd64 → versioned package → apt-get download → dpkg-deb -x → depmod -b.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, renameSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from './paths.mjs';

export class KernelFetchError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'KernelFetchError';
  }
}

/**
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {import('node:child_process').SpawnSyncOptionsWithStringEncoding | {}} [opts]
 */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new KernelFetchError(`${cmd} ${args.join(' ')}: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) {
    throw new KernelFetchError(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** The versioned image package behind the linux-image-amd64 metapackage, e.g. linux-image-6.1.0-56-amd64. */
export function resolveKernelPackage() {
  const out = run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(out);
  if (!m?.[1]) {
    throw new KernelFetchError(
      `apt-cache depends linux-image-amd64 names no versioned package (run apt-get update?):\n${out}`,
    );
  }
  return m[1];
}

/**
 * Make sure Debian's kernel is extracted under .cache/kernel/<package>/ and return its paths.
 * Reuses a complete cache (marked by a `.complete` file).
 * @returns {{pkg: string, version: string, root: string, vmlinuz: string, modulesDir: string}}
 */
/** @param {{log?: (line: string) => void}} [options] */
export function ensureKernel({ log = () => {} } = {}) {
  const base = path.join(cacheRoot(), 'kernel');
  mkdirSync(base, { recursive: true });
  // Reuse any complete cached kernel when apt cannot be asked (offline): prefer the resolved one.
  let pkg;
  try {
    pkg = resolveKernelPackage();
  } catch (e) {
    const cached = readdirSync(base).filter((d) => existsSync(path.join(base, d, '.complete')));
    if (cached.length === 0) throw e;
    pkg = cached.sort().at(-1) ?? '';
    log(`apt-cache failed (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); using cached ${pkg}`);
  }
  const root = path.join(base, pkg);
  const marker = path.join(root, '.complete');
  if (!existsSync(marker)) {
    log(`fetching ${pkg} (apt-get download, dpkg-deb -x, depmod)…`);
    const tmp = path.join(base, `${pkg}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(path.join(tmp, 'deb'), { recursive: true });
    run('apt-get', ['download', pkg], { cwd: path.join(tmp, 'deb') });
    const debs = readdirSync(path.join(tmp, 'deb')).filter((f) => f.endsWith('.deb'));
    if (debs.length !== 1)
      throw new KernelFetchError(`expected one .deb after apt-get download, got ${debs.join(', ')}`);
    const tree = path.join(tmp, 'tree');
    run('dpkg-deb', ['-x', path.join(tmp, 'deb', debs[0] ?? ''), tree]);
    const versions = readdirSync(path.join(tree, 'lib', 'modules'));
    if (versions.length !== 1) throw new KernelFetchError(`expected one module tree, got ${versions.join(', ')}`);
    run('depmod', ['-b', tree, versions[0] ?? '']);
    rmSync(path.join(tmp, 'deb'), { recursive: true, force: true });
    writeFileSync(path.join(tmp, 'tree', 'VERSION'), `${versions[0]}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(tree, root);
    rmSync(tmp, { recursive: true, force: true });
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  }
  const version = readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
  const vmlinuz = path.join(root, 'boot', `vmlinuz-${version}`);
  if (!existsSync(vmlinuz)) throw new KernelFetchError(`cached kernel ${root} lacks ${vmlinuz}; delete the directory`);
  return { pkg, version, root, vmlinuz, modulesDir: path.join(root, 'lib', 'modules') };
}
