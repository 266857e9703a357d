/**
 * What the host's network managers publish about a link, without starting a
 * process: systemd-networkd's per-link state file
 * (`/run/systemd/netif/links/<ifindex>`: `ADMIN_STATE=`, `NETWORK_FILE=`, the
 * same keys on 249, 252 and 255), NetworkManager's device file
 * (`/run/NetworkManager/devices/<ifindex>`: `managed=`), ifupdown's
 * `/run/network/ifstate.<name>` (or the older shared `/run/network/ifstate`).
 * Parsing is pure; engine/managers.ts reads the files.
 */
import { z } from 'zod';
import { ifNameProblem } from '../names.js';

export const MANAGER_PATHS = {
  networkdLinks: 'run/systemd/netif/links',
  networkManagerDevices: 'run/NetworkManager/devices',
  ifupdownState: 'run/network/ifstate',
} as const;

/** Who configures a link (reported per member by show-vrfs). */
export type LinkManager =
  | {
      readonly name: 'systemd-networkd';
      /** networkd's ADMIN_STATE: configuring, configured, failed, linger, pending, initialized. */
      readonly adminState: string;
      /** The .network file networkd applies to the link (absolute), or null when it names none. */
      readonly networkFile: string | null;
    }
  | { readonly name: 'NetworkManager' }
  | { readonly name: 'ifupdown' }
  | { readonly name: 'none' };

export type ManagerName = LinkManager['name'];

/** `KEY=VALUE` lines (networkd's state files, env-file style); comments and other lines are skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const networkdLinkSchema = z.object({
  ADMIN_STATE: z.string().regex(/^[a-z-]+$/),
  NETWORK_FILE: z.string().optional(),
});

/**
 * networkd's view of one link from its state file, or null when networkd does not
 * manage it (no file, `ADMIN_STATE=unmanaged`, or a file it did not finish writing).
 */
export function parseNetworkdLink(text: string): Extract<LinkManager, { name: 'systemd-networkd' }> | null {
  const r = networkdLinkSchema.safeParse(parseEnvFile(text));
  if (!r.success || r.data.ADMIN_STATE === 'unmanaged') return null;
  const file = r.data.NETWORK_FILE;
  return {
    name: 'systemd-networkd',
    adminState: r.data.ADMIN_STATE,
    networkFile: file !== undefined && file.startsWith('/') ? file : null,
  };
}

/** NetworkManager's device file says `managed=true` (its `[device]` keyfile). */
export function parseNetworkManagerDevice(text: string): boolean {
  return /^\s*managed\s*=\s*(true|1|yes)\s*$/im.test(text);
}

/** ifupdown's shared state file (`iface=logical` lines) lists the link as up. */
export function ifupdownListsLink(text: string, name: string): boolean {
  return text.split('\n').some((l) => l.trim().split('=')[0] === name);
}

/**
 * The `Name=` values of a .network file's `[Match]` section (whitespace-separated lists,
 * several assignments add up; an empty assignment clears the list, as systemd does), and
 * whether that section has any other key.
 */
export function matchNames(text: string): { names: string[]; otherKeys: string[] } {
  let section = '';
  let names: string[] = [];
  const otherKeys: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([^\]]+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    if (section !== 'Match') continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'Name') names = value === '' ? [] : [...names, ...value.split(/\s+/)];
    else otherKeys.push(key);
  }
  return { names, otherKeys };
}

/**
 * Whether a drop-in on this .network file can only ever reach `link`: its `[Match]` names
 * exactly that link (one name, no glob). Other match keys only narrow a match. A file that
 * matches by MAC address or driver, or names a pattern, could match another link too
 * (a VLAN shares its parent's MAC): vrf-host puts nothing on such a file.
 */
export function matchesOnlyLink(networkText: string, link: string): boolean {
  const { names } = matchNames(networkText);
  return names.length === 1 && names[0] === link && !/[*?[\]!]/.test(link);
}

/**
 * The .network file netplan will generate for the bridge Juju makes of `member` when it bridges
 * it for a container: Juju names the bridge `br-<member>` and rewrites netplan's YAML, and netplan
 * names its file after the link, next to the member's own (`10-netplan-bond0.network` →
 * `10-netplan-br-bond0.network`). Null when the member's file is not netplan's own for that
 * member, or the bridge's name would not be a valid interface name (Juju then hashes it).
 */
export function jujuBridgeFile(memberFile: string, member: string): string | null {
  const slash = memberFile.lastIndexOf('/');
  const dir = memberFile.slice(0, slash + 1);
  const m = /^(\d+-netplan-)(.+)\.network$/.exec(memberFile.slice(slash + 1));
  if (!m || m[2] !== member) return null;
  const bridge = jujuBridgeName(member);
  return bridge === null ? null : `${dir}${m[1]}${bridge}.network`;
}

/** `br-<member>`, Juju's name for the bridge it makes of a member, or null when too long. */
export function jujuBridgeName(member: string): string | null {
  const bridge = `br-${member}`;
  return ifNameProblem(bridge) === null ? bridge : null;
}
