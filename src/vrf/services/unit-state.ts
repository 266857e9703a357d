/**
 * What vrf-host reads of a unit, from one `systemctl show --property=… -- UNIT` (SHOW_PROPERTIES),
 * parsed with zod, and the settings under which `ip vrf exec` cannot work in it (the traps): each
 * a precise reason, so that the entry blocks before anything is written.
 */
import { z } from 'zod';
import { BOOT_UNIT_AFTER } from '../boot.js';

/** The properties one `systemctl show` asks for, in this order. */
export const SHOW_PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'MainPID',
  'Type',
  'FragmentPath',
  'DropInPaths',
  'User',
  'DynamicUser',
  'ProtectControlGroups',
  'PrivateNetwork',
  'NetworkNamespacePath',
  'RootDirectory',
  'RootImage',
  'Before',
] as const;

const yesNo = z.enum(['yes', 'no']).transform((v) => v === 'yes');

const showSchema = z.object({
  Id: z.string().min(1),
  LoadState: z.string(),
  ActiveState: z.string(),
  MainPID: z.coerce.number().int().nonnegative(),
  Type: z.string(),
  FragmentPath: z.string(),
  DropInPaths: z.string().transform((s) => s.split(/\s+/).filter((p) => p.length > 0)),
  User: z.string(),
  DynamicUser: yesNo,
  ProtectControlGroups: yesNo,
  PrivateNetwork: yesNo,
  NetworkNamespacePath: z.string(),
  RootDirectory: z.string(),
  RootImage: z.string(),
  Before: z.string().transform((s) => s.split(/\s+/).filter((u) => u.length > 0)),
});

export type UnitShow = z.output<typeof showSchema>;

export type ShowResult =
  { readonly ok: true; readonly unit: UnitShow } | { readonly ok: false; readonly problem: string };

/** `KEY=VALUE` lines → the unit's state, or what is missing or malformed. */
export function parseSystemctlShow(text: string): ShowResult {
  const raw: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    raw[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const r = showSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    return { ok: false, problem: `systemctl show: ${i?.path.join('.') ?? '?'}: ${i?.message ?? 'invalid'}` };
  }
  return { ok: true, unit: r.data };
}

/**
 * One `systemctl show` for several units prints one block per unit, in the order asked, separated
 * by an empty line.
 */
export function parseSystemctlShowMany(text: string): ShowResult[] {
  return text
    .split(/\n\s*\n/)
    .filter((b) => b.trim() !== '')
    .map(parseSystemctlShow);
}

/**
 * A unit ordered before any of these, and after vrf-host.service by the drop-in, is an ordering
 * cycle systemd breaks by dropping a job at boot: what vrf-host.service is ordered after
 * (boot.ts), and the early targets those are ordered after in turn.
 */
export const ORDERED_BEFORE_BOOT_UNIT: readonly string[] = [
  ...BOOT_UNIT_AFTER,
  'network-pre.target',
  'sysinit.target',
  'basic.target',
  'local-fs.target',
];

/** The unit exists as a loaded unit file (not `not-found`, `masked`, `bad-setting`, `error`). */
export const isLoaded = (u: UnitShow): boolean => u.LoadState === 'loaded';

/** Running or on its way: a placement change must restart it. */
export const isRunning = (u: UnitShow): boolean => ['active', 'activating', 'reloading'].includes(u.ActiveState);

const ROOT_USERS: ReadonlySet<string> = new Set(['', 'root', '0']);

/**
 * Why `ip vrf exec` cannot run in this unit, one reason per setting (empty: none).
 * ip vrf exec creates `<the unit's cgroup>/vrf/<VRF>` under /sys/fs/cgroup, loads a BPF program
 * and attaches it there (CAP_SYS_ADMIN, CAP_NET_ADMIN), then execs the command.
 */
export function vrfExecTraps(u: UnitShow): string[] {
  const out: string[] = [];
  if (!ROOT_USERS.has(u.User)) {
    out.push(
      `runs as User=${u.User}: ip vrf exec must run as root to load and attach its BPF program, ` +
        'and would run the command as root (drop privileges in the command itself, or wait for BindNetworkInterface=)',
    );
  }
  if (u.DynamicUser) out.push('has DynamicUser=yes: ip vrf exec must run as root to attach its BPF program');
  if (u.ProtectControlGroups) {
    out.push('has ProtectControlGroups=yes: /sys/fs/cgroup is read-only there, and ip vrf exec must create a cgroup');
  }
  if (u.PrivateNetwork || u.NetworkNamespacePath !== '') {
    out.push(
      'runs in a network namespace of its own (PrivateNetwork= or NetworkNamespacePath=), where the VRF does not exist',
    );
  }
  if (u.RootDirectory !== '' || u.RootImage !== '') {
    out.push('runs in a RootDirectory=/RootImage=, where the host ip binary may not exist');
  }
  const early = u.Before.filter((b) => ORDERED_BEFORE_BOOT_UNIT.includes(b));
  if (early.length > 0) {
    out.push(
      `is ordered before ${early.join(', ')}, which vrf-host.service starts after: waiting for its VRF would be an ordering cycle`,
    );
  }
  return out;
}
