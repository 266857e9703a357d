/**
 * Every file a converge that finds nothing to do reads (or would rewrite), so
 * a caller that memoizes such a run (the charm's update-status memo) knows
 * what to look at again. Kernel state is read through `ip`, which the caller
 * records itself; this lists the rest. A path that must be compared by
 * content is marked so: procfs and sysfs do not change a file's stat when its
 * value changes. Keep it next to the reads it mirrors (host.ts, persist.ts,
 * boot.ts, sysctl.ts); the e2e lifecycle test and kernel scenario 12
 * check it against what an update-status really opens (strace).
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BOOT_PATHS, type BootInstallOptions } from '../boot.js';
import { parseNetworkdLink } from '../networkd/state.js';
import { PATHS, readState, under } from '../persist.js';
import { routingManagerPaths } from '../routing-managers.js';
import { sysctlPath } from '../sysctl.js';
import { OWNED_SYSCTLS } from '../types.js';
import type { EngineOptions } from './host.js';
import { NETWORKD_STATE, networkdLinkPath } from './managers.js';

export interface WatchedPath {
  readonly path: string;
  /** content: compare what it holds; stat: compare lstat's identity (inode, size, times, mode). */
  readonly how: 'content' | 'stat';
}

export async function watchedPaths(o: EngineOptions, boot: BootInstallOptions | false): Promise<WatchedPath[]> {
  const content = (path: string): WatchedPath => ({ path, how: 'content' });
  const stat = (path: string): WatchedPath => ({ path, how: 'stat' });
  const proc = o.procRoot ?? '/proc';
  const out: WatchedPath[] = [
    stat(under(o.root, PATHS.state)),
    stat(under(o.root, PATHS.sysctlConf)),
    stat(under(o.root, PATHS.rtTables)),
    content(join(o.sysRoot ?? '/sys', 'module', 'vrf')),
    stat(under(o.root, 'run/systemd/container')),
    content(join(proc, '1', 'environ')),
    ...OWNED_SYSCTLS.map((k) => content(sysctlPath(k, proc))),
    // Another policy-routing manager appearing blocks the next converge (routing-managers.ts).
    ...routingManagerPaths(o.root).map(stat),
  ];
  // Netplan: the directory's names (a new file) and each file derivation reads.
  const netplan = under(o.root, 'etc/netplan');
  out.push(content(netplan));
  const names = await readdir(netplan).catch(() => [] as string[]);
  for (const n of names.filter((n) => /\.ya?ml$/.test(n)).sort()) out.push(stat(join(netplan, n)));
  out.push(...(await networkdPaths(o)));
  if (boot) {
    out.push(stat(boot.cliSource), stat(under(o.root, BOOT_PATHS.cli)), stat(under(o.root, BOOT_PATHS.unit)));
    for (const p of [...BOOT_PATHS.wants, ...BOOT_PATHS.hooks]) out.push(stat(under(o.root, p)));
    // installBoot's copy of node: the source it stats, the copy and the stamp it compares.
    if (boot.copyNode === true) {
      out.push(stat(boot.nodeBin), stat(under(o.root, BOOT_PATHS.node)), stat(under(o.root, BOOT_PATHS.nodeSource)));
    }
  }
  return out;
}

/**
 * What a converge reads for systemd-networkd (engine/managers.ts, engine/networkd.ts): whether
 * it runs, each member's link state file and the .network file it names, and every file
 * vrf-host gives networkd. The members and files come from state.json (the last run's), the
 * ifindexes from sysfs: a member whose ifindex changed changes ip's answer anyway.
 */
async function networkdPaths(o: EngineOptions): Promise<WatchedPath[]> {
  const running = under(o.root, NETWORKD_STATE);
  const out: WatchedPath[] = [{ path: running, how: 'stat' }];
  // Without networkd a converge reads nothing more for it; neither does this list.
  if (
    !(await access(running).then(
      () => true,
      () => false,
    ))
  )
    return out;
  const state = await readState(o.root).catch(() => null);
  if (state === null) return out;
  for (const p of state.ledger.networkdFiles ?? []) out.push({ path: under(o.root, p), how: 'stat' });
  for (const m of state.desired?.vrfs.flatMap((v) => v.members) ?? []) {
    const ifindex = join(o.sysRoot ?? '/sys', 'class', 'net', m, 'ifindex');
    out.push({ path: ifindex, how: 'content' });
    const idx = await readFile(ifindex, 'utf8').catch(() => null);
    if (idx === null || !/^\d+\s*$/.test(idx)) continue;
    const link = networkdLinkPath(o.root, Number(idx.trim()));
    out.push({ path: link, how: 'content' });
    const nd = parseNetworkdLink(await readFile(link, 'utf8').catch(() => ''));
    if (nd?.networkFile) out.push({ path: under(o.root, nd.networkFile), how: 'stat' });
  }
  return out;
}
