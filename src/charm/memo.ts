/**
 * Where and for what vrf-host keeps its hook memo: the record of the last full update-status
 * that changed nothing, which lets dispatch answer the next update-status by itself, in sh, with
 * two `ip` processes, no hook tool and without starting Node (src/charm/memo.sh defines the
 * record and its check; src/charm/recording.ts makes it); and the unit's last status
 * (src/ops/status-memory.ts). Loaded by the launcher (src/launch.ts), so: no zod, no execa.
 *
 *   ROOT/var/lib/vrf-host/memo/<app>-<n>.sh            the record, one per unit (0600)
 *   ROOT/var/lib/vrf-host/memo/<app>-<n>.status.json   the unit's last status-set (0600)
 *
 * dispatch names the record's path (VRF_HOST_MEMO_PATH, from JUJU_UNIT_NAME and VRF_HOST_ROOT:
 * vrf_memo_locate in memo.sh) and why it did not answer the hook (VRF_HOST_MEMO_MISSED).
 * VRF_HOST_MEMO=0 turns the fast path off (every update-status runs in full, and every
 * status-set runs).
 */
import { isAbsolute, join } from 'node:path';

declare const __VRF_HOST_BUILD__: string | undefined;

/** The charm build (set by scripts/build.mjs from the bundle's content); 'dev' from source. */
export const BUILD: string = typeof __VRF_HOST_BUILD__ === 'string' ? __VRF_HOST_BUILD__ : 'dev';

/** The hooks whose no-op runs are recorded (dispatch tries a record for any hook: it names its hook). */
export const MEMO_HOOKS: readonly string[] = ['update-status'];

/**
 * A record is trusted for at most this long: even when every read answers as
 * before, one update-status in this time runs in full, reading Juju (config-get,
 * network-get) and the machine again, including the large files a hit only
 * checks by type (DEVELOPERS.md). It is the safety net for what Juju does not
 * signal with a hook of its own (DEVELOPERS.md lists what it does signal, from
 * Juju's source), not for the host: every hit compares everything the engine
 * read of the host. A full run costs ~8x `node -e 0` in CPU time and a hit
 * ~0.7x, so the period sets how much of a full run the average carries: a 6th
 * at 30 minutes, a 24th at two hours (BENCHMARKS.md).
 */
export const MEMO_MAX_AGE_MS = 2 * 60 * 60_000;

/** Where every unit's record lives on the host under `root`. */
export function memoDir(root: string | undefined): string {
  return join(root || '/', 'var/lib/vrf-host/memo');
}

/** This unit's record as dispatch named it, or null when the memo is off or dispatch named none. */
export function memoPath(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env['VRF_HOST_MEMO'] === '0') return null;
  const p = env['VRF_HOST_MEMO_PATH'] ?? '';
  return isAbsolute(p) && p.endsWith('.sh') ? p : null;
}

/** The record a charm before the sh memo kept (JSON, answered by its launcher): deleted by the next full run. */
export function obsoleteMemoPaths(env: Readonly<Record<string, string | undefined>>): string[] {
  const p = memoPath(env);
  return p === null ? [] : [`${p.slice(0, -'.sh'.length)}.json`];
}

/** Where this unit's last status is kept (beside its record), or null (then every status-set runs). */
export function statusMemoryPath(env: Readonly<Record<string, string | undefined>>): string | null {
  const p = memoPath(env);
  return p === null ? null : `${p.slice(0, -'.sh'.length)}.status.json`;
}

/** Why dispatch did not answer this hook from its record (for the full run's DEBUG line). */
export function memoMissed(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return env['VRF_HOST_MEMO_MISSED'] || undefined;
}

/** The memo's sh, in the charm directory (scripts/build.mjs writes it with the build in it). */
export const MEMO_SCRIPT = 'dist/memo.sh';
