/**
 * Persistence beyond the Juju agent:
 *  - `vrf-host.service`, a oneshot that re-applies the last desired state at
 *    boot (after networkd has configured the links, before
 *    network-online.target), through the CLI: `vrf-host apply --from-state`;
 *  - a networkd-dispatcher hook (routable.d and configured.d) that re-applies
 *    when systemd-networkd reconfigures a link (its `nomaster` and its cleanup
 *    of foreign routes would otherwise undo the VRFs).
 * Both are enabled by writing files and the `.wants` symlinks under the root —
 * no systemctl call — and removed the same way. Nothing is ever written into
 * /etc/netplan.
 *
 * The CLI bundle is copied to /var/lib/vrf-host/bin/vrf-host.mjs and, when the
 * node binary lives in a unit's charm directory (the Node.js the charm ships),
 * that binary to /var/lib/vrf-host/bin/node, so the boot unit and the hook keep
 * working whichever unit's charm directory goes away first. The only variable
 * part of the unit and the hook is the node binary's path, checked to be a
 * plain absolute path (no interpolated user input). Neither fails quietly when
 * it cannot run: systemd logs a missing binary and fails the unit, the hook
 * says so on stderr (networkd-dispatcher's journal) and exits 1.
 */
import { copyFile, chmod, mkdir, rename, rm, symlink } from 'node:fs/promises';
import { readFile, readlink, stat } from './files.js';
import { dirname, join } from 'node:path';
import { removeFile, under, writeIfChanged } from './persist.js';
import { VrfError } from './errors.js';

export const BOOT_PATHS = {
  unit: 'etc/systemd/system/vrf-host.service',
  wants: [
    'etc/systemd/system/multi-user.target.wants/vrf-host.service',
    'etc/systemd/system/network-online.target.wants/vrf-host.service',
  ],
  hooks: ['etc/networkd-dispatcher/routable.d/50-vrf-host', 'etc/networkd-dispatcher/configured.d/50-vrf-host'],
  cli: 'var/lib/vrf-host/bin/vrf-host.mjs',
  node: 'var/lib/vrf-host/bin/node',
  /** Which file bin/node was copied from (path, size, mtime, inode): copied again only when that changes. */
  nodeSource: 'var/lib/vrf-host/bin/node.source',
} as const;

/** What vrf-host.service is ordered after (a unit that waits for it must not be ordered before these). */
export const BOOT_UNIT_AFTER = [
  'systemd-networkd.service',
  'systemd-networkd-wait-online.service',
  'network.target',
] as const;

/** Where the unit file lives on the real host (the symlink target). */
const UNIT_TARGET = '/etc/systemd/system/vrf-host.service';

export class BootError extends VrfError {
  override name = 'BootError';
}

export interface BootInstallOptions {
  readonly root?: string | undefined;
  /** Absolute path of the node binary that runs the CLI (e.g. process.execPath). */
  readonly nodeBin: string;
  /** The CLI bundle to copy to /var/lib/vrf-host/bin/vrf-host.mjs. */
  readonly cliSource: string;
  /**
   * Copy nodeBin to /var/lib/vrf-host/bin/node and run that copy: for a node that
   * goes away with something else (a unit's charm directory). Default false.
   */
  readonly copyNode?: boolean;
}

/** A plain absolute path: safe inside a unit file's ExecStart and a sh script without quoting. */
export function assertPlainPath(p: string, what: string): string {
  if (!/^\/[A-Za-z0-9._+/-]+$/.test(p) || p.split('/').includes('..')) {
    throw new BootError(`${what}: ${JSON.stringify(p)} must be an absolute path of letters, digits and ._+-/`);
  }
  return p;
}

export function renderUnit(nodeBin: string): string {
  const node = assertPlainPath(nodeBin, 'nodeBin');
  const cli = `/${BOOT_PATHS.cli}`;
  return `# Installed by vrf-host. Removed when vrf-host is removed.
[Unit]
Description=vrf-host: re-apply the VRFs of this machine's network spaces
Documentation=https://charmhub.io/vrf-host
After=${BOOT_UNIT_AFTER.join(' ')}
Before=network-online.target
ConditionPathExists=/var/lib/vrf-host/state.json

[Service]
Type=oneshot
ExecStart=${node} ${cli} apply --from-state
TimeoutStartSec=180

[Install]
WantedBy=multi-user.target network-online.target
`;
}

/**
 * The networkd-dispatcher hook. networkd-dispatcher runs it with the link in
 * $IFACE; we do not need (or interpolate) it: re-applying is idempotent and
 * serialised by the lock, and a converged host yields an empty plan.
 */
export function renderHook(nodeBin: string): string {
  const node = assertPlainPath(nodeBin, 'nodeBin');
  const cli = `/${BOOT_PATHS.cli}`;
  return `#!/bin/sh
# Installed by vrf-host: re-apply the VRFs when systemd-networkd reconfigures a link.
# Removed when vrf-host is removed.
[ -f /var/lib/vrf-host/state.json ] || exit 0
for f in ${node} ${cli}; do
  [ -f "$f" ] || { echo "vrf-host: $f is missing: cannot re-apply the VRFs (run juju's config-changed on a vrf-host unit)" >&2; exit 1; }
done
exec ${node} ${cli} apply --from-state --quiet
`;
}

async function linkTo(target: string, path: string): Promise<void> {
  const cur = await readlink(path).catch(() => null);
  if (cur === target) return;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.vrf-host.tmp`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, path);
}

/**
 * Copies the node binary to bin/node (atomically, executable) unless the copy there came from
 * the same file: a stat and a small read per hook, not 100 MB.
 */
async function copyNode(root: string | undefined, nodeBin: string): Promise<void> {
  const st = await stat(nodeBin).catch((e: Error) => {
    throw new BootError(`cannot read the node binary ${nodeBin}: ${e.message}`, { cause: e });
  });
  const source = `${JSON.stringify({ path: nodeBin, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev })}\n`;
  const dst = under(root, BOOT_PATHS.node);
  const stamp = under(root, BOOT_PATHS.nodeSource);
  const [had, copy] = await Promise.all([readFile(stamp, 'utf8').catch(() => null), stat(dst).catch(() => null)]);
  if (had === source && copy?.size === st.size) return;
  await mkdir(dirname(dst), { recursive: true });
  const tmp = `${dst}.vrf-host.tmp`;
  await copyFile(nodeBin, tmp);
  await chmod(tmp, 0o755);
  await rename(tmp, dst);
  await writeIfChanged(stamp, source, 0o644);
}

/** Installs (or refreshes) the CLI copy (and node's), the unit, its wants symlinks and the hooks. Idempotent. */
export async function installBoot(o: BootInstallOptions): Promise<void> {
  const cliSrc = assertPlainPath(o.cliSource, 'cliSource');
  const cliDst = under(o.root, BOOT_PATHS.cli);
  const src = await readFile(cliSrc).catch((e: Error) => {
    throw new BootError(`cannot read the CLI bundle ${cliSrc}: ${e.message}`, { cause: e });
  });
  await writeIfChanged(cliDst, src, 0o644);
  let node = assertPlainPath(o.nodeBin, 'nodeBin');
  if (o.copyNode === true) {
    await copyNode(o.root, node);
    node = `/${BOOT_PATHS.node}`;
  }
  await writeIfChanged(under(o.root, BOOT_PATHS.unit), renderUnit(node), 0o644);
  for (const w of BOOT_PATHS.wants) await linkTo(UNIT_TARGET, under(o.root, w));
  for (const h of BOOT_PATHS.hooks) await writeIfChanged(under(o.root, h), renderHook(node), 0o755);
}

/** Removes everything installBoot wrote. Missing files are fine. */
export async function removeBoot(o: { root?: string | undefined }): Promise<void> {
  for (const h of BOOT_PATHS.hooks) await removeFile(under(o.root, h));
  for (const w of BOOT_PATHS.wants) await removeFile(under(o.root, w));
  await removeFile(under(o.root, BOOT_PATHS.unit));
  await removeFile(under(o.root, BOOT_PATHS.cli));
  await rm(join(under(o.root, 'var/lib/vrf-host'), 'bin'), { recursive: true, force: true });
}
