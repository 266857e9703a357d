/**
 * Where and for what vrf-host keeps its hook memo (src/ops/memo.ts): the
 * record of the last full update-status that changed nothing, which lets the
 * next update-status finish with two `ip` processes, no hook tool, and without
 * loading the charm; and the unit's last status (src/ops/status-memory.ts).
 * Loaded by the launcher (src/launch.ts), so: no zod, no execa.
 *
 *   ROOT/var/lib/vrf-host/memo/<app>-<n>.json          the record, one per unit (0600)
 *   ROOT/var/lib/vrf-host/memo/<app>-<n>.status.json   the unit's last status-set (0600)
 *
 * VRF_HOST_MEMO=0 turns the fast path off (every update-status runs in full, and
 * every status-set runs).
 */
import { isAbsolute, join } from 'node:path';

declare const __VRF_HOST_BUILD__: string | undefined;

/** The charm build (set by scripts/build.mjs from the bundle's content); 'dev' from source. */
export const BUILD: string = typeof __VRF_HOST_BUILD__ === 'string' ? __VRF_HOST_BUILD__ : 'dev';

/** The hooks whose no-op runs are recorded and replayed. */
export const MEMO_HOOKS: readonly string[] = ['update-status'];

/**
 * A record is trusted for at most this long: even when every read answers as
 * before, one update-status in this time runs in full, reading Juju (config-get,
 * network-get) and the machine again. It is the safety net for what Juju does
 * not signal with a hook of its own (DEVELOPERS.md lists what it does signal,
 * from Juju's source), not for the host: every replay compares everything the
 * engine read of the host. A full run costs ~8x `node -e 0` in CPU time and a
 * hit ~1.8x, so the period sets how much of a full run the average carries:
 * a 6th at 30 minutes, a 24th at two hours (BENCHMARKS.md).
 */
export const MEMO_MAX_AGE_MS = 2 * 60 * 60_000;

const UNIT = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\/(\d+)$/;

/** Where every unit's record lives on the host under `root`. */
export function memoDir(root: string | undefined): string {
  return join(root || '/', 'var/lib/vrf-host/memo');
}

function unitFile(env: Readonly<Record<string, string | undefined>>, suffix: string): string | null {
  if (env['VRF_HOST_MEMO'] === '0') return null;
  const m = UNIT.exec(env['JUJU_UNIT_NAME'] ?? '');
  if (m === null) return null;
  const root = env['VRF_HOST_ROOT'] || '/';
  if (!isAbsolute(root)) return null;
  return join(memoDir(root), `${m[1]}-${m[2]}${suffix}`);
}

/** This unit's record, or null when the memo is off or the environment is unusable (the full run says why). */
export function memoPath(env: Readonly<Record<string, string | undefined>>): string | null {
  return unitFile(env, '.json');
}

/** Where this unit's last status is kept, or null (then every status-set runs). */
export function statusMemoryPath(env: Readonly<Record<string, string | undefined>>): string | null {
  return unitFile(env, '.status.json');
}

/** The hook JUJU_DISPATCH_PATH names ("hooks/update-status" → "update-status"), or null for an action. */
export function dispatchedHook(path: string | undefined): string | null {
  const m = /^(?:\.\/)?hooks\/([a-z0-9-]+)$/.exec(path ?? '');
  return m ? m[1]! : null;
}

/** The normalizer the charm names on its ip reads and the launcher applies (src/vrf/observe/stable.ts). */
export const IP_JSON = 'ip-json';

/** How the launcher hands its miss reason to the full run (shown in its DEBUG line). */
export const MISSED_KEY = Symbol.for('vrf-host.memo-missed');
