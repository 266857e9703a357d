/**
 * The drop-in that runs a service inside a VRF: pure, (unit, VRF, the unit's own ExecStart
 * lines) → the file's path and content.
 *
 *   /etc/systemd/system/<unit>.d/50-vrf-host-vrf.conf
 *   [Unit]     Wants= and After=vrf-host.service: the unit starts after the boot unit built the VRF
 *   [Service]  ExecStart=            (clears the unit's own list; without it systemd appends, and
 *                                    refuses a second ExecStart on anything but Type=oneshot)
 *              ExecStart=<prefixes>/usr/sbin/ip vrf exec <vrf> <the unit's command, verbatim>
 *              … one per line of the unit's own list, in order
 *
 * `ip vrf exec` moves itself into the cgroup `<the unit's cgroup>/vrf/<vrf>`, attaches a BPF
 * program that binds every socket created there to the VRF's device (by ifindex), and execs the
 * command: the service and every process it forks are in the VRF. systemd's prefixes stay in
 * front (`-` ignore failure, `:` no variable expansion, `+`/`!`/`!!` privileges); `@` (a separate
 * argv[0]) cannot pass through `ip vrf exec` and is refused.
 */
import { VrfError } from '../errors.js';
import { vrfNameProblem } from '../names.js';
import { unitNameProblem } from './unit-name.js';

export const SERVICES_DROPIN_NAME = '50-vrf-host-vrf.conf';
export const SYSTEMD_SYSTEM_DIR = 'etc/systemd/system';
/** Where Debian and Ubuntu's iproute2 installs ip (usrmerge: /sbin/ip is the same file). */
export const DEFAULT_IP_PATH = '/usr/sbin/ip';

export class DropInError extends VrfError {
  override name = 'DropInError';
}

/** The drop-in's path relative to the root, e.g. `etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf`. */
export function serviceDropInPath(unit: string): string {
  const p = unitNameProblem(unit);
  if (p !== null) throw new DropInError(`unit ${JSON.stringify(unit)} ${p}`);
  return `${SYSTEMD_SYSTEM_DIR}/${unit}.d/${SERVICES_DROPIN_NAME}`;
}

/** systemd's ExecStart prefixes (systemd.service(5), "Table 1. Special executable prefixes"). */
const PREFIX_RE = /^[-@:+!]*/;

export type WrapResult =
  { readonly ok: true; readonly line: string } | { readonly ok: false; readonly problem: string };

/** One ExecStart value wrapped in `ip vrf exec VRF`, its prefixes kept in front. */
export function wrapExecStart(value: string, vrf: string, ipPath: string = DEFAULT_IP_PATH): WrapResult {
  const prefixes = PREFIX_RE.exec(value)?.[0] ?? '';
  const command = value.slice(prefixes.length).trimStart();
  if (prefixes.includes('@')) {
    return {
      ok: false,
      problem: `ExecStart=${value} sets its own argv[0] ('@'), which ip vrf exec cannot pass on`,
    };
  }
  if (command === '') return { ok: false, problem: `ExecStart=${value} has no command` };
  return { ok: true, line: `${prefixes}${ipPath} vrf exec ${vrf} ${command}` };
}

export interface ServiceDropInInput {
  readonly unit: string;
  readonly vrf: string;
  /** The unit's own ExecStart values (unit-file.ts ownExecStart), in order. */
  readonly execStart: readonly string[];
  readonly ipPath?: string;
}

export type RenderResult =
  | { readonly ok: true; readonly path: string; readonly content: string }
  | { readonly ok: false; readonly problem: string };

const PLAIN_PATH_RE = /^\/[A-Za-z0-9._+/-]+$/;

/** The drop-in for one unit, or why it cannot be written. */
export function renderServiceDropIn(input: ServiceDropInInput): RenderResult {
  const ipPath = input.ipPath ?? DEFAULT_IP_PATH;
  if (!PLAIN_PATH_RE.test(ipPath) || ipPath.split('/').includes('..')) {
    throw new DropInError(`ip path ${JSON.stringify(ipPath)} must be a plain absolute path`);
  }
  const unitProblem = unitNameProblem(input.unit);
  if (unitProblem !== null) return { ok: false, problem: `unit name ${unitProblem}` };
  const vrfProblem = vrfNameProblem(input.vrf);
  if (vrfProblem !== null) return { ok: false, problem: `VRF name ${vrfProblem}` };
  if (input.execStart.length === 0) return { ok: false, problem: 'has no ExecStart= to run in the VRF' };
  const lines: string[] = [];
  for (const value of input.execStart) {
    if (/[\r\n]/.test(value)) return { ok: false, problem: 'has an ExecStart= value with a line break' };
    const w = wrapExecStart(value, input.vrf, ipPath);
    if (!w.ok) return { ok: false, problem: w.problem };
    lines.push(`ExecStart=${w.line}`);
  }
  const content = [
    `# Managed by vrf-host: runs ${input.unit} inside the VRF ${input.vrf}. Do not edit: vrf-host rewrites it,`,
    '# and removes it (then restarts the unit back into the default VRF) when the unit leaves its services option.',
    '[Unit]',
    'Wants=vrf-host.service',
    'After=vrf-host.service',
    '',
    '[Service]',
    'ExecStart=',
    ...lines,
    '',
  ].join('\n');
  return { ok: true, path: serviceDropInPath(input.unit), content };
}
