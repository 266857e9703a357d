/**
 * What the host shows of the units the services plan is about: one `systemctl show` for all of
 * them (src/vrf/systemctl.ts), then each unit's fragment and drop-ins, vrf-host's own drop-in and
 * `/proc/MAINPID/cgroup`, read through src/vrf/files.ts (so the update-status memo sees each read;
 * no process per unit or per PID).
 */
import { dirname, join } from 'node:path';
import { VrfError } from '../errors.js';
import { exists, readFile } from '../files.js';
import type { ProcOptions } from '../ip.js';
import { under } from '../persist.js';
import { systemctlShow } from '../systemctl.js';
import { serviceDropInPath } from './dropin.js';
import { observeService, type UnitReads } from './observe.js';
import type { ObservedService } from './plan.js';
import type { UnitFileText } from './unit-file.js';
import type { UnitShow } from './unit-state.js';

export class UnitFileReadError extends VrfError {
  override name = 'UnitFileReadError';
}

export interface ServicesReadOptions extends ProcOptions {
  /** Root for /etc, /lib and /run (default `/`): where the unit files systemd names are read. */
  readonly root?: string;
  /** Default `/proc`. */
  readonly procRoot?: string;
}

/** A file's text, or null when it is not there (any other failure throws: a unit file half read would misplace its lines). */
async function textOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new UnitFileReadError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The files of one unit systemd named, and what vrf-host needs besides. */
export async function readUnit(unit: string, show: UnitShow, o: ServicesReadOptions = {}): Promise<UnitReads> {
  const ours = `/${serviceDropInPath(unit)}`;
  const files: UnitFileText[] = [];
  for (const path of [show.FragmentPath, ...show.DropInPaths]) {
    if (path === '' || path === ours) continue;
    const text = await textOrNull(under(o.root, path));
    if (text !== null) files.push({ path, text });
  }
  // vrf-host's drop-in as it is on disk, whether or not systemd has loaded it yet.
  const mine = await textOrNull(under(o.root, ours));
  if (mine !== null) files.push({ path: ours, text: mine });
  const dirExists = await exists(under(o.root, dirname(ours)));
  const mainCgroup =
    show.MainPID > 0 ? await textOrNull(join(o.procRoot ?? '/proc', String(show.MainPID), 'cgroup')) : null;
  return { show, files, mainCgroup, dirExists };
}

/** Unit → what the planner needs of it, for every unit named (once each). No units: nothing is run. */
export async function readServices(
  units: readonly string[],
  o: ServicesReadOptions = {},
): Promise<Map<string, ObservedService>> {
  const shows = await systemctlShow(units, o);
  const out = new Map<string, ObservedService>();
  for (const [unit, show] of shows) out.set(unit, observeService(await readUnit(unit, show, o)));
  return out;
}
