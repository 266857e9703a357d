// Build (and cache) the busybox initramfs that mounts the host root over 9p and switch_roots into it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from './paths.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Modules insmod-ed by stage 1, in this order (measured on Debian's 6.1 kernel). */
export const INITRAMFS_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  '9pnet',
  'netfs',
  'fscache',
  '9pnet_virtio',
  '9p',
  'overlay',
];

export class InitramfsError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'InitramfsError';
  }
}

function findBusybox() {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    if (existsSync(p)) {
      const r = spawnSync('file', ['-L', p], { encoding: 'utf8' });
      // `file` may be missing; busybox-static's binary is what Debian ships at /bin/busybox.
      if (r.status !== 0 || /statically linked|static-pie/.test(r.stdout)) return p;
    }
  }
  throw new InitramfsError('busybox not found: apt-get install busybox-static');
}

/**
 * Map module name → path relative to the module tree, from modules.dep.
 * @param {{ modulesDir: string, version: string }} kernel
 */
function modulePaths(kernel) {
  const dep = readFileSync(path.join(kernel.modulesDir, kernel.version, 'modules.dep'), 'utf8');
  const byName = new Map();
  for (const line of dep.split('\n')) {
    const file = line.split(':')[0];
    if (!file) continue;
    byName.set(path.basename(file).replace(/\.ko(\.[a-z]+)?$/, ''), file);
  }
  return INITRAMFS_MODULES.map((m) => {
    const rel = byName.get(m);
    if (!rel) throw new InitramfsError(`module ${m} not in ${kernel.version}'s modules.dep`);
    if (!rel.endsWith('.ko'))
      throw new InitramfsError(`module ${m} is compressed (${rel}); busybox insmod needs plain .ko`);
    return { name: m, file: path.join(kernel.modulesDir, kernel.version, rel) };
  });
}

/**
 * Return the path of a cached initramfs for this kernel, building it when its inputs changed.
 * The cache key hashes busybox, both init scripts and every module file.
 */
/**
 * @param {{version: string, modulesDir: string}} kernel
 * @param {{log?: (line: string) => void}} [options]
 */
export function ensureInitramfs(kernel, { log = () => {} } = {}) {
  const busybox = findBusybox();
  const mods = modulePaths(kernel);
  const stage1 = path.join(here, 'init-stage1.sh');
  const stage2 = path.join(here, 'init-stage2.sh');
  const h = createHash('sha256');
  for (const f of [busybox, stage1, stage2, ...mods.map((m) => m.file)]) {
    h.update(f).update('\0').update(readFileSync(f));
  }
  h.update(INITRAMFS_MODULES.join(','));
  const key = h.digest('hex').slice(0, 16);
  const dir = path.join(cacheRoot(), 'initramfs');
  const out = path.join(dir, `initramfs-${kernel.version}-${key}.cpio`);
  if (existsSync(out)) return out;
  log(`building initramfs ${path.basename(out)}…`);
  const tree = path.join(dir, `tree-${key}`);
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'mod', 'lower', 'upper', 'newroot'])
    mkdirSync(path.join(tree, d), { recursive: true });
  copyFileSync(busybox, path.join(tree, 'bin', 'busybox'));
  chmodSync(path.join(tree, 'bin', 'busybox'), 0o755);
  copyFileSync(stage1, path.join(tree, 'init'));
  chmodSync(path.join(tree, 'init'), 0o755);
  copyFileSync(stage2, path.join(tree, 'init-stage2.sh'));
  for (const m of mods) copyFileSync(m.file, path.join(tree, 'mod', `${m.name}.ko`));
  writeFileSync(path.join(tree, 'modules.order'), `${INITRAMFS_MODULES.join('\n')}\n`);
  const files = spawnSync('find', ['.', '-print0'], { cwd: tree, encoding: 'buffer' });
  if (files.status !== 0) throw new InitramfsError(`find failed: ${files.stderr}`);
  const cpio = spawnSync('cpio', ['--null', '-o', '-H', 'newc', '--quiet'], {
    cwd: tree,
    input: files.stdout,
    maxBuffer: 256 << 20,
  });
  if (cpio.status !== 0 || cpio.error) {
    throw new InitramfsError(`cpio failed: ${cpio.error?.message ?? cpio.stderr.toString()}`, { cause: cpio.error });
  }
  writeFileSync(`${out}.tmp`, cpio.stdout);
  renameSync(`${out}.tmp`, out);
  rmSync(tree, { recursive: true, force: true });
  return out;
}
