/**
 * Who configures each member link, read from the files the managers publish
 * (no process): systemd-networkd's per-link state, NetworkManager's device
 * files, ifupdown's state. Only a handful of small reads per converge: the
 * members' networkd state files and, for each, the .network file it names.
 */
import { exists, readdir, readFile } from '../files.js';
import { join } from 'node:path';
import {
  ifupdownListsLink,
  jujuBridgeFile,
  jujuBridgeName,
  type LinkManager,
  MANAGER_PATHS,
  matchesOnlyLink,
  parseNetworkdLink,
  parseNetworkManagerDevice,
} from '../networkd/state.js';
import { networkFileProblem } from '../networkd/render.js';
import { under } from '../persist.js';
import type { Link, Warning } from '../types.js';

/** The file whose presence says systemd-networkd runs (it writes it when it starts). */
export const NETWORKD_STATE = 'run/systemd/netif/state';

async function text(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function present(path: string): Promise<boolean> {
  return exists(path);
}

export function networkdLinkPath(root: string | undefined, ifindex: number): string {
  return under(root, join(MANAGER_PATHS.networkdLinks, String(ifindex)));
}

export async function networkdRuns(root: string | undefined): Promise<boolean> {
  return present(under(root, NETWORKD_STATE));
}

/** networkd's view of a link, or null when it does not manage it. */
export async function networkdLink(root: string | undefined, link: Pick<Link, 'ifindex'>) {
  const t = await text(networkdLinkPath(root, link.ifindex));
  return t === null ? null : parseNetworkdLink(t);
}

/** The manager of one link (show-vrfs): networkd, then NetworkManager, then ifupdown. */
export async function linkManager(
  root: string | undefined,
  link: Pick<Link, 'name' | 'ifindex'>,
): Promise<LinkManager> {
  const nd = await networkdLink(root, link);
  if (nd) return nd;
  const nm = await text(under(root, join(MANAGER_PATHS.networkManagerDevices, String(link.ifindex))));
  if (nm !== null && parseNetworkManagerDevice(nm)) return { name: 'NetworkManager' };
  if (await present(under(root, `${MANAGER_PATHS.ifupdownState}.${link.name}`))) return { name: 'ifupdown' };
  const shared = await text(under(root, MANAGER_PATHS.ifupdownState));
  if (shared !== null && ifupdownListsLink(shared, link.name)) return { name: 'ifupdown' };
  return { name: 'none' };
}

export interface NetworkdMembers {
  /** systemd-networkd runs on this host. */
  readonly running: boolean;
  /** Member → the .network file networkd applies to it, for the members that can carry vrf-host's drop-in. */
  readonly files: Readonly<Record<string, string>>;
  /**
   * Member → netplan's file for the bridge Juju would make of it (networkd/state.ts
   * jujuBridgeFile), for the members with a drop-in that are not bridges themselves and whose
   * `br-<member>` is not already some other link.
   */
  readonly bridgeFiles: Readonly<Record<string, string>>;
  /** Member → networkd's view, for every member networkd manages. */
  readonly managed: Readonly<Record<string, Extract<LinkManager, { name: 'systemd-networkd' }>>>;
  readonly warnings: readonly Warning[];
}

/**
 * What converge needs of networkd: whether it runs, and for each member it manages the
 * .network file a drop-in can go on — only one whose `[Match]` names exactly that link
 * (a drop-in on a file matching by MAC address, driver or a pattern could enslave another link).
 */
export async function networkdMembers(
  root: string | undefined,
  members: readonly string[],
  links: readonly Pick<Link, 'name' | 'ifindex' | 'kind' | 'master'>[],
): Promise<NetworkdMembers> {
  const running = await networkdRuns(root);
  if (!running) return { running, files: {}, bridgeFiles: {}, managed: {}, warnings: [] };
  const files: Record<string, string> = {};
  const bridgeFiles: Record<string, string> = {};
  const managed: Record<string, Extract<LinkManager, { name: 'systemd-networkd' }>> = {};
  const warnings: Warning[] = [];
  for (const m of members) {
    const l = links.find((x) => x.name === m);
    if (!l) continue;
    const nd = await networkdLink(root, l);
    if (!nd) continue;
    managed[m] = nd;
    const nf = nd.networkFile;
    if (nf === null) continue;
    const problem = networkFileProblem(nf);
    const body = problem === null ? await text(under(root, nf)) : null;
    if (problem === null && body !== null && matchesOnlyLink(body, m)) {
      files[m] = nf;
      const bridge = jujuBridgeName(m);
      const other = links.some((x) => x.name === bridge && l.master !== bridge);
      const bf = jujuBridgeFile(nf, m);
      if (l.kind !== 'bridge' && !other && bf !== null) bridgeFiles[m] = bf;
      continue;
    }
    warnings.push({
      field: `networkd: ${m}`,
      message:
        `${nf} ${problem ?? (body === null ? 'cannot be read' : "matches by more than this link's name")}:` +
        ` vrf-host gives networkd no VRF= for ${m}, so networkd may release it when it reconfigures ${m};` +
        ` the next update-status re-applies`,
    });
  }
  return { running, files, bridgeFiles, managed, warnings };
}

/**
 * Whether a networkd-dispatcher process runs: its comm (the script's name, cut to 15
 * characters by the kernel) in /proc/<pid>/comm. Read by show-vrfs only, never by a converge:
 * it reads one small file per process.
 */
export async function networkdDispatcherRuns(procRoot = '/proc'): Promise<boolean> {
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  for (const pid of pids) {
    const comm = await readFile(join(procRoot, pid, 'comm'), 'utf8').catch(() => '');
    if (comm.trim() === 'networkd-dispat') return true;
  }
  return false;
}
