/**
 * Which services to move, write, release and restart: pure, (the resolved `services` entries,
 * what the host shows of each unit, the ledger's records, each VRF's ifindex) → typed steps and
 * the records to keep.
 *
 * - A drop-in is written when its content differs from the file on disk (or there is none),
 *   removed when its unit left the option; one `systemctl daemon-reload` after any file step.
 * - A unit is restarted (`systemctl try-restart`: only if it runs) only when its placement
 *   changed: placed, moved to another VRF, released, its VRF recreated (a new ifindex: the BPF
 *   program of its running processes binds their sockets to the old one, and `ip vrf identify`,
 *   which reads only the cgroup's name, cannot see it), its own ExecStart changed (a package
 *   upgrade: the drop-in still ran the old command), or its main process is not in its VRF.
 * - A unit that does not exist gets nothing and a warning. A listed unit that has failed
 *   (ActiveState=failed: its start in the VRF failed; vrf-host never starts a unit) gets a
 *   warning too. A unit in which `ip vrf exec` cannot work (unit-state.ts vrfExecTraps), or whose
 *   command cannot be wrapped, is a problem naming the entry, and then nothing at all is planned.
 * - With no entries (teardown, or the option emptied), every recorded drop-in goes and every
 *   recorded unit that runs is restarted back into the default VRF; a drop-in directory
 *   vrf-host created goes with its file.
 */
import { type PlacedService, placedServiceSchema } from '../schema.js';
import type { Problem, Warning } from '../types.js';
import type { ServiceEntry } from './config.js';
import { renderServiceDropIn } from './dropin.js';
import { isLoaded, isRunning, type UnitShow, vrfExecTraps } from './unit-state.js';

export { placedServiceSchema };
export type { PlacedService };

export interface ObservedService {
  readonly show: UnitShow;
  /** The unit's own ExecStart lines (unit-file.ts ownExecStart: vrf-host's drop-in left out). */
  readonly execStart: readonly string[];
  /** vrf-host's drop-in as it is on disk, or null. */
  readonly dropIn: string | null;
  readonly dirExists: boolean;
  /** `ip vrf identify MAINPID` ('' = the default VRF); undefined when there is no main process. */
  readonly processVrf: string | undefined;
}

export const RESTART_REASONS = [
  'placed',
  'moved',
  'released',
  'vrf-recreated',
  'command-changed',
  'not-in-vrf',
] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

export type ServiceStep =
  | { readonly kind: 'write-dropin'; readonly unit: string; readonly path: string; readonly content: string }
  | { readonly kind: 'remove-dropin'; readonly unit: string; readonly path: string; readonly removeDir: boolean }
  | { readonly kind: 'daemon-reload' }
  | { readonly kind: 'try-restart'; readonly unit: string; readonly reason: RestartReason };

export interface ServicesInput {
  readonly entries: readonly ServiceEntry[];
  /** Unit → what the host shows; a unit systemd has never heard of is absent or not loaded. */
  readonly observed: ReadonlyMap<string, ObservedService>;
  readonly records: readonly PlacedService[];
  /** VRF name → its device's ifindex now (after the ip apply). */
  readonly vrfIfindex: ReadonlyMap<string, number>;
  readonly ipPath?: string;
}

export type ServicesPlan =
  | {
      readonly ok: true;
      readonly steps: readonly ServiceStep[];
      /** The ledger's records once the steps ran. */
      readonly records: readonly PlacedService[];
      readonly warnings: readonly Warning[];
    }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly warnings: readonly Warning[] };

const field = (unit: string): string => `services: ${unit}`;

const sameLines = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((l, i) => l === b[i]);

/** Why a placed unit must restart, or null. */
function restartReason(
  rec: PlacedService | undefined,
  e: ServiceEntry,
  ifindex: number,
  o: ObservedService,
): RestartReason | null {
  if (rec === undefined) return 'placed';
  if (rec.vrf !== e.vrf) return 'moved';
  if (rec.ifindex !== ifindex) return 'vrf-recreated';
  if (!sameLines(rec.execStart, o.execStart)) return 'command-changed';
  if (o.processVrf !== undefined && o.processVrf !== e.vrf) return 'not-in-vrf';
  return null;
}

export function planServices(input: ServicesInput): ServicesPlan {
  const problems: Problem[] = [];
  const warnings: Warning[] = [];
  const files: ServiceStep[] = [];
  const restarts: ServiceStep[] = [];
  const records: PlacedService[] = [];
  const recordOf = new Map(input.records.map((r) => [r.unit, r]));
  const wanted = new Set(input.entries.map((e) => e.unit));

  for (const e of input.entries) {
    const rec = recordOf.get(e.unit);
    const o = input.observed.get(e.unit);
    if (o === undefined || !isLoaded(o.show)) {
      warnings.push({
        field: field(e.unit),
        message: `is not a unit on this host (${o?.show.LoadState ?? 'not-found'}): nothing done for it yet`,
      });
      if (rec) records.push(rec);
      continue;
    }
    if (o.show.Id !== e.unit) {
      // systemd reads drop-ins of an alias's name too, but vrf-host finds its own by the unit's.
      problems.push({ field: field(e.unit), message: `is an alias of ${o.show.Id}: name ${o.show.Id} instead` });
      continue;
    }
    for (const trap of vrfExecTraps(o.show)) problems.push({ field: field(e.unit), message: trap });
    const ifindex = input.vrfIfindex.get(e.vrf);
    if (ifindex === undefined) {
      problems.push({ field: field(e.unit), message: `names ${e.vrf}, which is not on the host` });
      continue;
    }
    const r = renderServiceDropIn({
      unit: e.unit,
      vrf: e.vrf,
      execStart: o.execStart,
      ...(input.ipPath !== undefined ? { ipPath: input.ipPath } : {}),
    });
    if (!r.ok) {
      problems.push({ field: field(e.unit), message: r.problem });
      continue;
    }
    if (o.dropIn !== r.content) files.push({ kind: 'write-dropin', unit: e.unit, path: r.path, content: r.content });
    const reason = restartReason(rec, e, ifindex, o);
    if (reason !== null && isRunning(o.show)) restarts.push({ kind: 'try-restart', unit: e.unit, reason });
    // A start that failed (a try-restart into the VRF, or anything since): never retried by vrf-host.
    if (o.show.ActiveState === 'failed')
      warnings.push({
        field: field(e.unit),
        message: `has failed (ActiveState=failed): not running in ${e.vrf}`,
      });
    records.push({
      unit: e.unit,
      vrf: e.vrf,
      ifindex,
      execStart: [...o.execStart],
      path: r.path,
      createdDir: rec?.createdDir ?? !o.dirExists,
    });
  }

  for (const rec of input.records) {
    if (wanted.has(rec.unit)) continue;
    files.push({ kind: 'remove-dropin', unit: rec.unit, path: rec.path, removeDir: rec.createdDir });
    const o = input.observed.get(rec.unit);
    if (o !== undefined && isRunning(o.show))
      restarts.push({ kind: 'try-restart', unit: rec.unit, reason: 'released' });
  }

  if (problems.length > 0) return { ok: false, problems, warnings };
  const reload: ServiceStep[] = files.length > 0 ? [{ kind: 'daemon-reload' }] : [];
  return { ok: true, steps: [...files, ...reload, ...restarts], records, warnings };
}
