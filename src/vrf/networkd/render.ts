/**
 * systemd-networkd's share of the VRFs, as files: pure, (desired, what the
 * planner keeps, the members' network files) → the exact set of files with
 * their contents. networkd then re-applies the VRFs itself whenever it
 * reconfigures, reloads, restarts or sees a carrier come back, instead of
 * undoing them (see DEVELOPERS.md, "Living with systemd-networkd"):
 *
 *   /etc/systemd/network/05-vrf-host-<vrf>.netdev   Kind=vrf, [VRF] Table=
 *   /etc/systemd/network/05-vrf-host-<vrf>.network  the VRF device: its rules (the moved local lookup,
 *                                                   `from ADDRESS lookup TABLE`), the leaks into main,
 *                                                   the strict catch-all
 *   /etc/systemd/network/<member's file>.d/50-vrf-host.conf
 *                                                   VRF=, and the routes of the VRF's table through it
 *
 * What goes into them is exactly what the planner keeps on the host
 * (Plan.kept): one decision, made once, applied twice (by `ip -batch` now,
 * by networkd whenever it reconfigures).
 */
import { basename } from 'node:path';
import { VrfError } from '../errors.js';
import { isDefaultPrefix } from '../plan/keys.js';
import { ifNameProblem, vrfNameProblem } from '../names.js';
import type { DesiredState, DesiredVrf, Family, RouteTarget, RuleTarget } from '../types.js';
import { RESERVED_TABLES, TABLE } from '../types.js';

export const NETWORKD_DIR = 'etc/systemd/network';
export const DROPIN_NAME = '50-vrf-host.conf';

export class NetworkdRenderError extends VrfError {
  override name = 'NetworkdRenderError';
}

export interface NetworkdFile {
  /** Relative to the root, e.g. `etc/systemd/network/05-vrf-host-storage.netdev`. */
  readonly path: string;
  readonly content: string;
}

export interface NetworkdInput {
  readonly desired: DesiredState;
  /** The routes and rules vrf-host keeps on the host once the plan has run (Plan.kept). */
  readonly routes: readonly RouteTarget[];
  readonly rules: readonly RuleTarget[];
  /**
   * Member → the .network file networkd applies to it (absolute), for the members networkd
   * manages through a file that names only that link. Other members get no drop-in.
   */
  readonly memberFiles: Readonly<Record<string, string>>;
  /**
   * Member → the .network file netplan will generate for the bridge Juju makes of that member
   * for a container (`10-netplan-br-<member>.network`, see networkd/state.ts jujuBridgeFile):
   * the member's drop-in goes there too, ahead of time, so that when Juju re-bridges the member
   * networkd itself puts the bridge (which gets the member's addresses) in the VRF.
   */
  readonly bridgeFiles: Readonly<Record<string, string>>;
}

const HEADER = '# Managed by vrf-host; removed when vrf-host is removed. Do not edit: vrf-host rewrites it.';

/** A .network file's base name that may carry a drop-in directory of ours. */
export function networkFileProblem(path: string): string | null {
  if (!path.startsWith('/')) return `${JSON.stringify(path)} is not an absolute path`;
  const b = basename(path);
  if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]*\.network$/.test(b))
    return `${JSON.stringify(b)} is not a plain .network file name`;
  if (b.startsWith('05-vrf-host-')) return `${b} is vrf-host's own file`;
  return null;
}

function vrfName(s: string): string {
  const p = vrfNameProblem(s);
  if (p !== null) throw new NetworkdRenderError(`invalid VRF name: ${p}`);
  return s;
}

function ifName(s: string): string {
  const p = ifNameProblem(s);
  if (p !== null) throw new NetworkdRenderError(`invalid interface name: ${p}`);
  return s;
}

/** Tokens that go into a value: the validated forms the planner hands over (addresses, prefixes, numbers). */
function token(s: string, what: string): string {
  if (!/^[0-9A-Za-z.:/_-]+$/.test(s)) throw new NetworkdRenderError(`${what}: invalid value ${JSON.stringify(s)}`);
  return s;
}

function tableValue(t: number, what: string): string {
  if (!Number.isInteger(t) || t < 1 || t > 0xffffffff) throw new NetworkdRenderError(`${what}: invalid table ${t}`);
  if (t === TABLE.main) return 'main';
  if (t === TABLE.local) return 'local';
  if (t === TABLE.default) return 'default';
  if (RESERVED_TABLES.includes(t)) throw new NetworkdRenderError(`${what}: table ${t} is reserved`);
  return String(t);
}

function section(name: string, lines: readonly string[]): string {
  return [`[${name}]`, ...lines].join('\n');
}

function file(path: string, sections: readonly string[]): NetworkdFile {
  return { path, content: [HEADER, ...sections].join('\n\n') + '\n' };
}

function routeSection(r: RouteTarget, what: string): string {
  const lines: string[] = [];
  if (r.type === 'unreachable') lines.push('Type=unreachable');
  if (!isDefaultPrefix(r.dst)) lines.push(`Destination=${token(r.dst, what)}`);
  else if (r.gateway === undefined) lines.push(`Destination=${token(r.dst, what)}`);
  if (r.gateway !== undefined) lines.push(`Gateway=${token(r.gateway, what)}`);
  // A gateway-less IPv4 unicast route is a link route, as `ip route replace PREFIX dev X` makes
  // it (IPv6 routes have no scope: networkd ignores Scope= on them, with a warning).
  if (r.type === 'unicast' && r.gateway === undefined && r.family === 'inet') lines.push('Scope=link');
  if (r.metric !== undefined) lines.push(`Metric=${token(String(r.metric), what)}`);
  lines.push(`Table=${tableValue(r.table, what)}`);
  return section('Route', lines);
}

const FAMILY: Record<Family, string> = { inet: 'ipv4', inet6: 'ipv6' };

function ruleSection(r: RuleTarget, what: string): string {
  if (r.l3mdev === true) throw new NetworkdRenderError(`${what}: the l3mdev rule is the kernel's`);
  const lines = [`Family=${FAMILY[r.family]}`];
  if (r.src !== undefined) lines.push(`From=${token(r.src, what)}`);
  if (r.dst !== undefined) lines.push(`To=${token(r.dst, what)}`);
  lines.push(`Table=${tableValue(r.table, what)}`, `Priority=${token(String(r.priority), what)}`);
  return section('RoutingPolicyRule', lines);
}

/** Why `p` is not a path vrf-host may write for networkd (relative to the root), or null. */
export function networkdPathProblem(p: string): string | null {
  const own = /^etc\/systemd\/network\/05-vrf-host-([a-z0-9-]+)\.(netdev|network)$/.exec(p);
  if (own) return vrfNameProblem(own[1]);
  const dropIn = /^etc\/systemd\/network\/([^/]+)\.d\/50-vrf-host\.conf$/.exec(p);
  if (dropIn) return networkFileProblem(`/${dropIn[1]}`);
  return `${JSON.stringify(p)} is not one of vrf-host's networkd files`;
}

export function netdevPath(vrf: string): string {
  return `${NETWORKD_DIR}/05-vrf-host-${vrfName(vrf)}.netdev`;
}

export function vrfNetworkPath(vrf: string): string {
  return `${NETWORKD_DIR}/05-vrf-host-${vrfName(vrf)}.network`;
}

export function dropInPath(networkFile: string): string {
  const p = networkFileProblem(networkFile);
  if (p !== null) throw new NetworkdRenderError(`network file: ${p}`);
  return `${NETWORKD_DIR}/${basename(networkFile)}.d/${DROPIN_NAME}`;
}

/** The VRF a kept route belongs to: its table, or (a leak into main) its device. */
function vrfOfRoute(r: RouteTarget, byTable: Map<number, DesiredVrf>, byName: Map<string, DesiredVrf>) {
  return byTable.get(r.table) ?? (r.dev !== undefined ? byName.get(r.dev) : undefined);
}

/**
 * The files, sorted by path. Throws NetworkdRenderError on a name or value that must not reach
 * a file (the same validation as the ip renderer).
 */
export function renderNetworkd(input: NetworkdInput): NetworkdFile[] {
  const { desired } = input;
  const byTable = new Map(desired.vrfs.map((v) => [v.table, v]));
  const byName = new Map(desired.vrfs.map((v) => [v.name, v]));
  const memberVrf = new Map<string, DesiredVrf>();
  for (const v of desired.vrfs) for (const m of v.members) memberVrf.set(m, v);

  const onVrf = new Map<string, string[]>(desired.vrfs.map((v) => [v.name, []]));
  const onMember = new Map<string, string[]>();

  for (const r of input.routes) {
    const what = `route ${r.dst} table ${r.table}`;
    const v = vrfOfRoute(r, byTable, byName);
    if (!v) continue; // not a VRF's route: nothing networkd should keep for vrf-host
    // Through a member: that member's drop-in (when networkd manages it). The VRF device itself
    // (a leak into main) or no device (unreachable): the VRF's own .network.
    const dev = r.type === 'unicast' ? (r.dev ?? (v.members.length === 1 ? v.members[0] : undefined)) : undefined;
    if (dev !== undefined && dev !== v.name) {
      if (memberVrf.get(dev)?.name !== v.name || input.memberFiles[dev] === undefined) continue;
      onMember.set(dev, [...(onMember.get(dev) ?? []), routeSection(r, what)]);
    } else if (r.type === 'unreachable' || dev === v.name) {
      onVrf.get(v.name)!.push(routeSection(r, what));
    }
  }
  // Every rule in every VRF's file: networkd keeps a rule while any configured link asks for it,
  // and drops the others whenever it configures a link. Asked for by one VRF's link only, a
  // rule went missing while that link was (re)configuring after another (seen on 252 at the
  // first reload: the local lookup vanished for 0.8 s). The moved local lookup is the host's
  // anyway, and a VRF's source rules must outlive a reconfigure of that VRF.
  const rules = input.rules
    .filter((r) => r.l3mdev !== true && (r.table === TABLE.local || byTable.has(r.table)))
    .map((r) => ruleSection(r, `rule pref ${r.priority}`));

  const out: NetworkdFile[] = [];
  for (const v of desired.vrfs) {
    const name = vrfName(v.name);
    out.push(
      file(netdevPath(name), [
        section('NetDev', [`Name=${name}`, 'Kind=vrf']),
        section('VRF', [`Table=${tableValue(v.table, `vrf ${name}`)}`]),
      ]),
    );
    out.push(
      file(vrfNetworkPath(name), [
        section('Match', [`Name=${name}`]),
        // The VRF device has no address: networkd-wait-online must not wait for it.
        section('Link', ['RequiredForOnline=no']),
        // networkd's default link-local addressing is what the kernel gives a new VRF device
        // (addr_gen_mode eui64): `LinkLocalAddressing=no` changed it under the ip path (seen on 252).
        section('Network', ['IPv6AcceptRA=no', 'ConfigureWithoutCarrier=yes']),
        ...rules,
        ...onVrf.get(v.name)!,
      ]),
    );
    for (const m of v.members) {
      const nf = input.memberFiles[m];
      if (nf === undefined) continue;
      const body = [section('Network', [`VRF=${name}`]), ...(onMember.get(ifName(m)) ?? [])];
      out.push(file(dropInPath(nf), body));
      // The same on the file of the bridge Juju would make of it: a [Route] names no device,
      // so what the member carries, its bridge carries once the addresses move there.
      const bf = input.bridgeFiles[m];
      if (bf !== undefined && bf !== nf) out.push(file(dropInPath(bf), body));
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
