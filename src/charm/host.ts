/**
 * Where the engine acts: the real host in production, a temporary tree and a
 * fake `ip` in tests. Everything comes from the environment, so the packed
 * charm can be pointed elsewhere by the out-of-process simulator and the
 * kernel suite, and nothing here is test-framework specific:
 *
 *   VRF_HOST_ROOT          prefix for /etc, /var/lib and /run        (default /)
 *   VRF_HOST_PROC          instead of /proc                          (default /proc)
 *   VRF_HOST_SYS           instead of /sys                           (default /sys)
 *   VRF_HOST_IP            the ip binary                             (default ip on PATH)
 *   VRF_HOST_MODPROBE      the modprobe binary                       (default modprobe)
 *   VRF_HOST_SYSTEMCTL     the systemctl binary (the services option) (default systemctl on PATH)
 *   VRF_HOST_FLOCK         the flock binary                          (default flock)
 *   VRF_HOST_LOCK_TIMEOUT  seconds to wait for the host lock         (default 120)
 *   VRF_HOST_NODE          node binary the boot unit runs            (default this node; copied to
 *                                                                     /var/lib/vrf-host/bin when it is
 *                                                                     in the charm directory)
 *   VRF_HOST_CLI           the CLI bundle the boot unit copies       (default CHARM_DIR/dist/vrf-host-cli.mjs)
 *   VRF_HOST_BOOT          "0": do not install the boot unit and hook (default: install)
 *   VRF_HOST_APPLY_ROUNDS  apply rounds per hook (default 3); "0": apply once and do not read the
 *                          host again (only for a fake ip whose host never changes: the e2e suite)
 *
 * In-process tests use `createVrfHostCharm(() => host)` instead, which can
 * also inject a spawn function and the engine's pure dependencies.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { BootInstallOptions } from '../vrf/boot.js';
import type { SettleOptions } from '../vrf/engine.js';
import { CharmError } from './errors.js';
import { MEMO_SCRIPT } from './memo.js';

export interface CharmHost {
  /** Options for every engine call (paths, binaries, spawn, deps; apply rounds for converge). */
  readonly engine: SettleOptions;
  /** How converge installs the boot unit and networkd hook; false: never (logged once per hook). */
  readonly boot: BootInstallOptions | false;
  /** Why `boot` is false, for the log; null when it is installed. */
  readonly bootDisabled: string | null;
  /** The memo's sh (src/charm/memo.sh, in the charm: dist/memo.sh); absent: update-status is never recorded. */
  readonly memoScript?: string;
}

export const CLI_IN_CHARM = 'dist/vrf-host-cli.mjs';

export class HostEnvironmentError extends CharmError {
  override name = 'HostEnvironmentError';
}

const absPath = (name: string) =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || isAbsolute(s), `${name} must be an absolute path`);

const EnvSchema = z.object({
  VRF_HOST_ROOT: absPath('VRF_HOST_ROOT'),
  VRF_HOST_PROC: absPath('VRF_HOST_PROC'),
  VRF_HOST_SYS: absPath('VRF_HOST_SYS'),
  VRF_HOST_IP: absPath('VRF_HOST_IP'),
  VRF_HOST_MODPROBE: absPath('VRF_HOST_MODPROBE'),
  VRF_HOST_SYSTEMCTL: absPath('VRF_HOST_SYSTEMCTL'),
  VRF_HOST_FLOCK: absPath('VRF_HOST_FLOCK'),
  VRF_HOST_NODE: absPath('VRF_HOST_NODE'),
  VRF_HOST_CLI: absPath('VRF_HOST_CLI'),
  VRF_HOST_LOCK_TIMEOUT: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || /^\d{1,5}$/.test(s), 'VRF_HOST_LOCK_TIMEOUT must be a number of seconds')
    .transform((s) => (s === undefined ? undefined : Number(s))),
  VRF_HOST_BOOT: z.enum(['0', '1', '']).optional(),
  VRF_HOST_APPLY_ROUNDS: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || /^\d$/.test(s), 'VRF_HOST_APPLY_ROUNDS must be a digit')
    .transform((s) => (s === undefined ? undefined : Number(s))),
});

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The host from the environment (production: the real paths). Throws HostEnvironmentError on a bad variable. */
export function hostFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  charmDir: string | undefined,
): CharmHost {
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    throw new HostEnvironmentError(`invalid environment: ${r.error.issues.map((i) => i.message).join('; ')}`, {
      cause: r.error,
    });
  }
  const e = r.data;
  const engine: SettleOptions = {
    ...(e.VRF_HOST_ROOT !== undefined ? { root: e.VRF_HOST_ROOT } : {}),
    ...(e.VRF_HOST_PROC !== undefined ? { procRoot: e.VRF_HOST_PROC } : {}),
    ...(e.VRF_HOST_SYS !== undefined ? { sysRoot: e.VRF_HOST_SYS } : {}),
    ...(e.VRF_HOST_IP !== undefined ? { ipBin: e.VRF_HOST_IP } : {}),
    ...(e.VRF_HOST_MODPROBE !== undefined ? { modprobeBin: e.VRF_HOST_MODPROBE } : {}),
    ...(e.VRF_HOST_SYSTEMCTL !== undefined ? { systemctlBin: e.VRF_HOST_SYSTEMCTL } : {}),
    ...(e.VRF_HOST_FLOCK !== undefined ? { flockBin: e.VRF_HOST_FLOCK } : {}),
    ...(e.VRF_HOST_LOCK_TIMEOUT !== undefined ? { lockTimeoutSec: e.VRF_HOST_LOCK_TIMEOUT } : {}),
    ...(e.VRF_HOST_APPLY_ROUNDS !== undefined ? { rounds: e.VRF_HOST_APPLY_ROUNDS } : {}),
  };
  const script = charmDir !== undefined ? join(charmDir, MEMO_SCRIPT) : undefined;
  const memo = script !== undefined && existsSync(script) ? { memoScript: script } : {};
  if (e.VRF_HOST_BOOT === '0') return { engine, boot: false, bootDisabled: 'VRF_HOST_BOOT=0', ...memo };
  const cli = e.VRF_HOST_CLI ?? (charmDir !== undefined ? join(charmDir, CLI_IN_CHARM) : undefined);
  if (cli === undefined || !existsSync(cli)) {
    return {
      engine,
      ...memo,
      boot: false,
      bootDisabled:
        `the CLI bundle ${cli ?? CLI_IN_CHARM} is missing from the charm,` +
        ` so the VRFs are not re-applied at boot; rebuild the charm`,
    };
  }
  const nodeBin = e.VRF_HOST_NODE ?? process.execPath;
  // The charm's own bin/node goes away with this unit's charm directory: the boot unit runs a copy.
  // (process.execPath is a real path; the charm directory may be given through a symlink)
  const copyNode =
    charmDir !== undefined && [charmDir, realOr(charmDir)].some((d) => nodeBin.startsWith(`${d.replace(/\/+$/, '')}/`));
  return { engine, boot: { nodeBin, cliSource: cli, copyNode }, bootDisabled: null, ...memo };
}
