import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above scripts/vm). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the kernel, the initramfs and VM run directories are cached (gitignored). */
export function cacheRoot() {
  return process.env.VRF_HOST_CACHE ? path.resolve(process.env.VRF_HOST_CACHE) : path.join(repoRoot, '.cache');
}
