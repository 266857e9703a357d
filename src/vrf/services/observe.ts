/**
 * What the runner reads of one unit, joined into what the planner needs: pure. The runner runs one
 * `systemctl show` for every unit (unit-state.ts), reads the unit's fragment and drop-ins and
 * `/proc/MAINPID/cgroup` through src/vrf/files.ts (no process per unit or per PID: the memo
 * watches those files, and `ip vrf identify` would be a process each).
 */
import { serviceDropInPath } from './dropin.js';
import type { ObservedService } from './plan.js';
import { ownExecStart, type UnitFileText } from './unit-file.js';
import type { UnitShow } from './unit-state.js';

/**
 * The VRF a process is in, from its `/proc/PID/cgroup`: the cgroup2 line (`0::PATH`) whose path
 * ends in `/vrf/NAME`, where `ip vrf exec` puts it ('' otherwise: the default VRF). `ip vrf
 * identify` reads the same line (and takes whatever follows `/vrf/`); like it, this sees the
 * cgroup's name, not the ifindex its BPF program carries.
 */
export function cgroupVrf(procCgroup: string): string {
  return /\/vrf\/([^/]+)$/.exec(cgroup2Path(procCgroup) ?? '')?.[1] ?? '';
}

/** The cgroup2 path of a `/proc/PID/cgroup` (its `0::PATH` line), null when it has none. */
export function cgroup2Path(procCgroup: string): string | null {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3).trim();
}

export interface UnitReads {
  readonly show: UnitShow;
  /** FragmentPath and every DropInPaths entry that could be read, in systemd's order. */
  readonly files: readonly UnitFileText[];
  /** `/proc/MAINPID/cgroup`, or null when MainPID is 0 or the process is gone. */
  readonly mainCgroup: string | null;
  readonly dirExists: boolean;
}

export function observeService(r: UnitReads): ObservedService {
  const ours = `/${serviceDropInPath(r.show.Id)}`;
  const dropIn = r.files.find((f) => f.path === ours)?.text ?? null;
  return {
    show: r.show,
    execStart: ownExecStart(r.files, ours),
    dropIn,
    dirExists: r.dirExists,
    processVrf: r.show.MainPID > 0 && r.mainCgroup !== null ? cgroupVrf(r.mainCgroup) : undefined,
  };
}
