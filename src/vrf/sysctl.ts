/**
 * The sysctls vrf-host owns: read and written under /proc/sys (procRoot is
 * injectable), persisted in /etc/sysctl.d/60-vrf-host.conf (only the keys
 * vrf-host sets).
 */
import { writeFile } from 'node:fs/promises';
import { readFile } from './files.js';
import { join } from 'node:path';
import { OWNED_SYSCTLS, SYSCTL, type DesiredState, type Sysctls } from './types.js';
import { VrfError } from './errors.js';

export class SysctlError extends VrfError {
  override name = 'SysctlError';
}

/** Refuses anything that is not one of the keys vrf-host owns. */
export function assertOwnedKey(key: string): string {
  if (!OWNED_SYSCTLS.includes(key)) throw new SysctlError(`sysctl ${JSON.stringify(key)} is not one vrf-host owns`);
  return key;
}

/** `net.ipv4.tcp_l3mdev_accept` → `PROCROOT/sys/net/ipv4/tcp_l3mdev_accept`. */
export function sysctlPath(key: string, procRoot = '/proc'): string {
  assertOwnedKey(key);
  return join(procRoot, 'sys', ...key.split('.'));
}

/** The current values; null for a key this kernel does not have. */
export async function readSysctls(keys: readonly string[] = OWNED_SYSCTLS, procRoot = '/proc'): Promise<Sysctls> {
  const out: Record<string, string | null> = {};
  for (const key of keys) {
    try {
      out[key] = (await readFile(sysctlPath(key, procRoot), 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') out[key] = null;
      else throw new SysctlError(`cannot read ${key}: ${(e as Error).message}`, { cause: e });
    }
  }
  return out;
}

export async function writeSysctl(key: string, value: string, procRoot = '/proc'): Promise<void> {
  if (!/^[0-9]+$/.test(value)) throw new SysctlError(`sysctl ${key}: value ${JSON.stringify(value)} is not a number`);
  const path = sysctlPath(key, procRoot);
  try {
    // No O_CREAT: a key the kernel lacks is an error, not a new file.
    await writeFile(path, `${value}\n`, { flag: 'r+' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'this kernel has no such sysctl' : (e as Error).message;
    throw new SysctlError(`cannot set ${key}=${value}: ${why}`, { cause: e });
  }
}

/** The sysctl values a desired state asks for (the keys vrf-host sets, nothing else). */
export function desiredSysctls(desired: DesiredState): Record<string, string> {
  if (desired.vrfs.length === 0) return {};
  const out: Record<string, string> = { [SYSCTL.keepAddrOnDown]: '1' };
  if (desired.options.l3mdevAccept) {
    out[SYSCTL.tcpL3mdev] = '1';
    out[SYSCTL.udpL3mdev] = '1';
  }
  if (desired.options.nonlocalBind) {
    out[SYSCTL.nonlocalBind4] = '1';
    out[SYSCTL.nonlocalBind6] = '1';
  }
  return out;
}

/** The text of /etc/sysctl.d/60-vrf-host.conf, or null when there is nothing to keep. */
export function renderSysctlConf(values: Readonly<Record<string, string>>): string | null {
  const keys = Object.keys(values)
    .filter((k) => OWNED_SYSCTLS.includes(k))
    .sort();
  if (keys.length === 0) return null;
  const lines = ['# Managed by vrf-host: re-applied at boot. Removed when vrf-host is removed.'];
  for (const k of keys) lines.push(`${k} = ${values[k]}`);
  return lines.join('\n') + '\n';
}
