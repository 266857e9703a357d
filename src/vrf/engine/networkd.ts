/**
 * networkd's share of a converge or a teardown: the files vrf-host gives
 * systemd-networkd (rendered by src/vrf/networkd/render.ts from what the
 * planner keeps), as `networkd-write`/`networkd-remove` steps that follow the
 * ip steps of the same plan — so `plan`, dry-run, show-vrfs and drift see
 * them like any other step — and the one `networkctl reload` after them.
 */
import { readdir, readFile } from '../files.js';
import { networkctlReload, type ProcOptions } from '../ip.js';
import { NETWORKD_DIR, networkdPathProblem, renderNetworkd } from '../networkd/render.js';
import { networkdFilesOf, under, withServices } from '../persist.js';
import type { DesiredState, Kept, Ledger, ObservedHost, Plan, Step, Warning } from '../types.js';
import { networkdMembers, type NetworkdMembers } from './managers.js';

export interface NetworkdPlan {
  /** systemd-networkd runs on this host. */
  readonly running: boolean;
  /** The files vrf-host gives networkd after this run (the ledger's networkdFiles). */
  readonly paths: readonly string[];
  /** What makes the disk match: writes of changed files, removals of files no longer given. */
  readonly steps: readonly Step[];
  readonly warnings: readonly Warning[];
}

async function current(root: string | undefined, path: string): Promise<string | null> {
  try {
    return await readFile(under(root, path), 'utf8');
  } catch {
    return null;
  }
}

/** The VRF name in a path, or the member file, for the step's why. */
function what(path: string): string {
  const own = /05-vrf-host-([a-z0-9-]+)\.(netdev|network)$/.exec(path);
  if (own) return own[2] === 'netdev' ? `VRF ${own[1]} (its device and table)` : `VRF ${own[1]} (its rules and leaks)`;
  return `the member of ${path.replace(/^.*\/([^/]+)\.d\/[^/]+$/, '$1')} (VRF= and the VRF's routes through it)`;
}

/** What networkd manages of the desired members (read before planning: the plan's protocol depends on it). */
export async function observeNetworkd(
  root: string | undefined,
  desired: DesiredState,
  observed: ObservedHost,
): Promise<NetworkdMembers> {
  return networkdMembers(
    root,
    desired.vrfs.flatMap((v) => v.members),
    observed.links,
  );
}

export async function planNetworkd(
  root: string | undefined,
  desired: DesiredState,
  kept: Kept,
  ledger: Ledger,
  nd: NetworkdMembers,
): Promise<NetworkdPlan> {
  // networkd not running (stopped for a moment, or gone): leave its files as they are. Taking
  // them away then would leave a networkd that starts again undoing the VRFs, as before.
  if (!nd.running) return { running: false, paths: ledger.networkdFiles ?? [], steps: [], warnings: nd.warnings };
  const files = renderNetworkd({
    desired,
    routes: kept.routes,
    rules: kept.rules,
    memberFiles: nd.files,
    bridgeFiles: nd.bridgeFiles,
  });
  const steps: Step[] = [];
  for (const f of files) {
    if ((await current(root, f.path)) === f.content) continue;
    steps.push({
      kind: 'networkd-write',
      path: f.path,
      content: f.content,
      why: `systemd-networkd keeps ${what(f.path)} itself: it re-applies it whenever it reconfigures, reloads or restarts`,
    });
  }
  const given = new Set(files.map((f) => f.path));
  for (const path of ledger.networkdFiles ?? []) {
    if (given.has(path) || networkdPathProblem(path) !== null) continue;
    if ((await current(root, path)) === null) continue;
    steps.push({
      kind: 'networkd-remove',
      path,
      why: `${what(path)} is no longer given to systemd-networkd`,
    });
  }
  return { running: nd.running, paths: files.map((f) => f.path), steps, warnings: nd.warnings };
}

/** Removal steps for every networkd file a ledger records, plus any left by a run that lost its ledger. */
export async function networkdRemovals(root: string | undefined, ledger: Ledger | null): Promise<Step[]> {
  const paths = new Set(ledger?.networkdFiles ?? []);
  for (const p of await strayFiles(root)) paths.add(p);
  const steps: Step[] = [];
  for (const path of [...paths].sort()) {
    if (networkdPathProblem(path) !== null || (await current(root, path)) === null) continue;
    steps.push({ kind: 'networkd-remove', path, why: `teardown: ${what(path)} goes back to networkd as it was` });
  }
  return steps;
}

/** vrf-host's files under /etc/systemd/network, found by name (only its own names match). */
async function strayFiles(root: string | undefined): Promise<string[]> {
  const dir = under(root, NETWORKD_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) {
    const own = `${NETWORKD_DIR}/${n}`;
    if (networkdPathProblem(own) === null) out.push(own);
    if (n.endsWith('.network.d')) {
      const dropIn = `${NETWORKD_DIR}/${n}/50-vrf-host.conf`;
      if (networkdPathProblem(dropIn) === null && (await current(root, dropIn)) !== null) out.push(dropIn);
    }
  }
  return out;
}

/**
 * After networkd files changed: `networkctl reload` when networkd runs (it needs the system
 * bus). A failure is a warning: the files are in place and networkd reads them when it
 * next starts or reloads.
 */
export async function reloadNetworkd(
  steps: readonly { step: Step }[],
  running: boolean,
  o: ProcOptions,
): Promise<Warning | null> {
  if (!running || !steps.some((s) => s.step.kind === 'networkd-write' || s.step.kind === 'networkd-remove'))
    return null;
  const r = await networkctlReload(o).catch((e: Error) => ({ ok: false, stderr: e.message }));
  if (r.ok) return null;
  return {
    field: 'networkd',
    message:
      `networkctl reload failed (${r.stderr || 'no error output'}):` +
      ` systemd-networkd reads vrf-host's files when it next reloads or starts`,
  };
}

export interface FullPlan {
  /** The planner's plan (ip and sysctl steps, the ledger it leaves, what it keeps). */
  readonly plan: Plan;
  readonly networkd: NetworkdPlan;
  /** The ip and sysctl steps, then networkd's files. */
  readonly steps: readonly Step[];
  /** The ledger once every step has run, with the networkd files it gives. */
  readonly ledger: Ledger;
}

/**
 * The plan converge and show-vrfs share: what networkd manages is read first (the planner adds
 * routes and rules as networkd does where it runs), then the planner, then networkd's files.
 * Throws NetworkdRenderError on a name that must not reach a file.
 */
export async function planWithNetworkd(
  root: string | undefined,
  planFn: (desired: DesiredState, observed: ObservedHost, ledger: Ledger) => Plan,
  desired: DesiredState,
  observed: ObservedHost,
  ledger: Ledger,
): Promise<FullPlan> {
  const nd = await observeNetworkd(root, desired, observed);
  const plan = planFn(desired, { ...observed, networkdRuns: nd.running }, ledger);
  const networkd = await planNetworkd(root, desired, plan.kept, ledger, nd);
  return {
    plan,
    networkd,
    steps: [...plan.steps, ...networkd.steps],
    // The planner knows nothing of the services placed in its VRFs (src/vrf/services): they are carried.
    ledger: withServices({ ...plan.ledger, ...networkdFilesOf(networkd.paths) }, ledger.services ?? []),
  };
}
