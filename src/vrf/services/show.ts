/**
 * show-vrfs' part for the services inside a VRF: per unit vrf-host placed (the ledger's records),
 * its state, every process of it and whether each is in the unit's VRF, and the VRF's ifindex
 * the unit was started with against the one it has now (the one thing `ip vrf identify` cannot
 * see: a VRF recreated under a running unit leaves its sockets bound to the old device).
 *
 * A process is in a VRF by the rule of `ip vrf identify` (observe.ts cgroupVrf: its cgroup path
 * ends in /vrf/NAME). The unit's processes are those of its cgroup and of the cgroups `ip vrf
 * exec` creates under it (`<unit's cgroup>/vrf/<VRF>`), listed from cgroup2's `cgroup.procs`;
 * the unit's cgroup is its main process's with the /vrf/NAME part left off. One `systemctl show`
 * for all the units (services/read.ts); every other read goes through src/vrf/files.ts: no
 * process per unit or per PID.
 */
import { join } from 'node:path';
import { readdir, readFile } from '../files.js';
import type { ObservedHost, PlacedService } from '../types.js';
import { cgroup2Path, cgroupVrf } from './observe.js';
import { readServices, type ServicesReadOptions } from './read.js';

export interface ServiceProcessShow {
  readonly pid: number;
  /** The VRF it is in ('' = the default VRF). */
  readonly vrf: string;
}

export interface ServiceShow {
  readonly unit: string;
  readonly vrf: string;
  /** systemd's ActiveState (`active`, `inactive`, `failed`, …; `not-found` when systemd has no such unit). */
  readonly state: string;
  readonly processes: readonly ServiceProcessShow[];
  /** Every process of the unit is in its VRF (false when it has none). */
  readonly inVrf: boolean;
  /** The VRF's ifindex when vrf-host last (re)started the unit in it. */
  readonly recordedIfindex: number;
  /** The VRF's ifindex now (null: the VRF is not on the host). */
  readonly ifindex: number | null;
}

export interface ShowServicesOptions extends ServicesReadOptions {
  /** Default `/sys`: cgroup2 is read under SYS/fs/cgroup. */
  readonly sysRoot?: string;
}

/** `0::/system.slice/chrony.service/vrf/storage` → `/system.slice/chrony.service`. */
export function unitCgroup(procCgroup: string): string | null {
  return cgroup2Path(procCgroup)?.replace(/\/vrf\/[^/]+$/, '') ?? null;
}

async function textOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null; // gone meanwhile (a process that ended), or no cgroup2 there
  }
}

const pids = (text: string | null): number[] =>
  (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l))
    .map(Number);

/** The PIDs of a unit's cgroup and of the VRF cgroups under it, main first. */
async function unitPids(mainPid: number, o: ShowServicesOptions): Promise<number[]> {
  if (mainPid <= 0) return [];
  const proc = o.procRoot ?? '/proc';
  const cg = unitCgroup((await textOrNull(join(proc, String(mainPid), 'cgroup'))) ?? '');
  if (cg === null) return [mainPid];
  const base = join(o.sysRoot ?? '/sys', 'fs/cgroup', cg);
  const vrfs = await readdir(join(base, 'vrf')).catch(() => [] as string[]);
  const all = [base, ...vrfs.sort().map((v) => join(base, 'vrf', v))];
  const found: number[] = [mainPid];
  for (const dir of all) for (const p of pids(await textOrNull(join(dir, 'cgroup.procs')))) found.push(p);
  return [...new Set(found)];
}

/** The placed units, as the host has them now. No records: no process is started. */
export async function showServices(
  records: readonly PlacedService[],
  host: ObservedHost,
  o: ShowServicesOptions = {},
): Promise<ServiceShow[]> {
  if (records.length === 0) return [];
  const observed = await readServices(
    records.map((r) => r.unit),
    o,
  );
  const out: ServiceShow[] = [];
  for (const r of records) {
    const s = observed.get(r.unit);
    const processes: ServiceProcessShow[] = [];
    for (const pid of await unitPids(s?.show.MainPID ?? 0, o)) {
      const text = await textOrNull(join(o.procRoot ?? '/proc', String(pid), 'cgroup'));
      if (text !== null) processes.push({ pid, vrf: cgroupVrf(text) });
    }
    const link = host.links.find((l) => l.name === r.vrf && l.kind === 'vrf');
    out.push({
      unit: r.unit,
      vrf: r.vrf,
      state: s?.show.LoadState === 'loaded' ? s.show.ActiveState : (s?.show.LoadState ?? 'not-found'),
      processes,
      inVrf: processes.length > 0 && processes.every((p) => p.vrf === r.vrf),
      recordedIfindex: r.ifindex,
      ifindex: link?.ifindex ?? null,
    });
  }
  return out;
}
