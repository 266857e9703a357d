// Host prerequisites for the real-kernel suite: check them, install them through apt when root.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGES_FILE = fileURLToPath(new URL('./packages.txt', import.meta.url));

/**
 * scripts/vm/packages.txt as [command or absolute path, Debian package] pairs: the one list of
 * system packages (.ci/run reads the same file).
 * @param {string} [text]
 * @returns {[probe: string, pkg: string][]}
 */
export function readPackages(text = readFileSync(PACKAGES_FILE, 'utf8')) {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => {
      const [pkg, probe, ...rest] = l.split(/\s+/);
      if (!pkg || !probe || rest.length > 0) throw new Error(`scripts/vm/packages.txt: bad line "${l}"`);
      return [probe, pkg];
    });
}

/** command (or absolute path) → Debian package that provides it. */
export const REQUIRED = readPackages();

export class HostPrerequisiteError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'HostPrerequisiteError';
  }
}

/** @param {string} cmd */
function have(cmd) {
  if (cmd.startsWith('/')) return spawnSync('test', ['-x', cmd]).status === 0;
  const r = spawnSync('which', [cmd], { encoding: 'utf8' });
  if (r.status === 0) return true;
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (spawnSync('test', ['-x', `${dir}/${cmd}`]).status === 0) return true;
  }
  return false;
}

export function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Missing Debian packages (by the commands they provide). */
export function missingPackages({ needQemu = true } = {}) {
  const pkgs = REQUIRED.filter(([cmd]) => (needQemu || cmd !== 'qemu-system-x86_64') && !have(cmd)).map(
    ([, pkg]) => pkg,
  );
  return [...new Set(pkgs)];
}

/**
 * Make sure the suite's system packages are present. As root, installs what is missing with apt-get;
 * otherwise throws a HostPrerequisiteError saying exactly what to install.
 */
/** @param {{needQemu?: boolean, log?: (line: string) => void}} [options] */
export function ensureHostPackages({ needQemu = true, log = () => {} } = {}) {
  if (!isRoot()) {
    throw new HostPrerequisiteError(
      'the real-kernel suite must run as root (it creates network namespaces, VRFs and boots a VM). ' +
        'Run it with sudo, or set VRF_HOST_SKIP_KERNEL=1 to skip it explicitly.',
    );
  }
  const missing = missingPackages({ needQemu });
  if (missing.length === 0) return [];
  log(`installing missing packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  const inst = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
  if (upd.status !== 0 || inst.status !== 0) {
    throw new HostPrerequisiteError(`apt-get install ${missing.join(' ')} failed; install them by hand`);
  }
  const still = missingPackages({ needQemu });
  if (still.length > 0) throw new HostPrerequisiteError(`still missing after apt-get: ${still.join(' ')}`);
  return missing;
}
