/**
 * The shared vocabulary of the VRF domain. Every module in src/vrf speaks these
 * types; nothing here knows about Juju. Addresses are always canonical strings
 * (ipaddr.js `toString()`, IPv6 compressed, lowercase), prefixes always
 * `ADDR/LEN` with the host bits cleared.
 */

export const FAMILIES = ['inet', 'inet6'] as const;
export type Family = (typeof FAMILIES)[number];
/** `IPv4` or `IPv6`, as messages name a family. */
export const familyName = (f: Family): string => (f === 'inet' ? 'IPv4' : 'IPv6');

// The persisted shapes (desired state, ledger, routes, rules) are derived from their zod schemas.
export type {
  DerivedGateway,
  DesiredState,
  DesiredVrf,
  GatewaySource,
  HostOptions,
  InMainBinding,
  Ledger,
  LedgerV1,
  MemberAddress,
  OwnedRule,
  PlacedService,
  Route,
  RouteSpec,
  Rule,
  Sysctls,
} from './schema.js';
import type { DesiredState, DesiredVrf, HostOptions, Ledger, Route, RouteSpec, Rule, Sysctls } from './schema.js';

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/** One address of a bound interface, as network-get reports it. */
export interface BindingAddress {
  /** The unit's address, e.g. `10.10.4.23`. */
  readonly address: string;
  /** The subnet, e.g. `10.10.4.0/24` (network-get's `cidr`). */
  readonly cidr: string;
}

/** One interface of a binding, as network-get's `bind-addresses[]` reports it. */
export interface BindingInterface {
  readonly name: string;
  readonly mac?: string;
  readonly addresses: readonly BindingAddress[];
}

/** Binding name → its interfaces. Holds the default binding too (see DEFAULT_BINDING). */
export type Bindings = Readonly<Record<string, readonly BindingInterface[]>>;

/** The binding whose interfaces are the unit's default (juju-info's endpoint). */
export const DEFAULT_BINDING = 'juju-info';

/** The space roles an operator can bind (metadata.yaml extra-bindings). */
export const SPACE_ROLES = ['mgmt', 'public', 'internal', 'admin', 'storage', 'storage-cluster', 'tenant'] as const;
export type SpaceRole = (typeof SPACE_ROLES)[number];

export interface VrfConfigEntry {
  readonly binding: string;
  readonly table?: number;
  readonly gateways: Readonly<Partial<Record<Family, string>>>;
  readonly routes: readonly RouteSpec[];
}

export interface GatewayOverride {
  /** A binding name, a VRF name or a canonical CIDR. */
  readonly key: string;
  readonly keyKind: 'name' | 'cidr';
  readonly family: Family;
  readonly address: string;
}

export interface SpaceRoute {
  /** A binding or VRF name. */
  readonly key: string;
  readonly to: string;
  readonly via?: string;
}

/** The validated engine configuration (charm config or CLI file, after zod). */
export interface EngineConfig {
  /** null: automatic mode (one VRF per extra-binding that differs from the default binding). */
  readonly vrfs: Readonly<Record<string, VrfConfigEntry>> | null;
  readonly gateways: readonly GatewayOverride[];
  readonly tableRange: { readonly min: number; readonly max: number };
  readonly excludeInterfaces: readonly string[];
  readonly spaceRoutes: readonly SpaceRoute[];
  /** The host-wide switches; they flow whole into DesiredState.options. */
  readonly options: HostOptions;
  /**
   * allow-forwarding: build the VRFs even though the host forwards traffic to local containers,
   * pods or NAT targets (src/vrf/forwarding.ts), which a member's VRF then drops. Not a switch of
   * the desired state: it only decides whether a converge may start.
   */
  readonly allowForwarding: boolean;
  /**
   * services: the systemd units to run inside a VRF (src/vrf/services), sorted by unit. Checked
   * against the desired state by the converge (resolveServices); empty: none, and any unit
   * vrf-host placed before goes back to the default VRF.
   */
  readonly services: readonly ServiceEntry[];
}

/** One entry of the services option: run this systemd unit inside this VRF. */
export interface ServiceEntry {
  readonly unit: string;
  readonly vrf: string;
}

/** Everything the desired-state derivation reads besides the host. */
export interface EngineInputs {
  readonly config: EngineConfig;
  readonly bindings: Bindings;
  /** Controller IPs (JUJU_API_ADDRESSES without ports). */
  readonly controllers: readonly string[];
  /** Files under /etc/netplan, name → text (already read; parsing is pure). */
  readonly netplan: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------
// Observed host (the parsed, normalised output of `ip -json -details`)
// ---------------------------------------------------------------------------

export interface Link {
  readonly name: string;
  readonly ifindex: number;
  /** linkinfo.info_kind: 'vrf', 'bridge', 'bond', 'vlan', 'veth', 'dummy', … or null for a plain NIC. */
  readonly kind: string | null;
  /** linkinfo.info_slave_kind: 'vrf', 'bridge', 'bond', … when the link has a master. */
  readonly slaveKind: string | null;
  readonly master: string | null;
  /** Administratively up (IFF_UP in flags). */
  readonly up: boolean;
  /** For kind 'vrf': its table. */
  readonly vrfTable: number | null;
  /** For kind 'vlan': the lower link name. */
  readonly lower: string | null;
  /**
   * For kind 'vlan': `loose_binding` is on, so the VLAN does not go down and up with its lower
   * device (model.ts cycleOf). False for every other kind.
   */
  readonly looseBinding: boolean;
  readonly mac: string | null;
}

export interface Addr {
  readonly dev: string;
  readonly family: Family;
  readonly address: string;
  readonly prefixlen: number;
  /** 'global', 'link', 'host'. */
  readonly scope: string;
}

export const SYSCTL = {
  tcpL3mdev: 'net.ipv4.tcp_l3mdev_accept',
  udpL3mdev: 'net.ipv4.udp_l3mdev_accept',
  keepAddrOnDown: 'net.ipv6.conf.all.keep_addr_on_down',
  nonlocalBind4: 'net.ipv4.ip_nonlocal_bind',
  nonlocalBind6: 'net.ipv6.ip_nonlocal_bind',
} as const;
export const OWNED_SYSCTLS: readonly string[] = Object.values(SYSCTL);

export interface RouteGet {
  readonly dev: string | null;
  readonly gateway: string | null;
}

export interface ObservedHost {
  readonly links: readonly Link[];
  readonly addrs: readonly Addr[];
  readonly routes: readonly Route[];
  readonly rules: readonly Rule[];
  readonly sysctls: Sysctls;
  /** `ip route get` per controller address. */
  readonly routeGet: Readonly<Record<string, RouteGet>>;
  /** The vrf module is loaded or built in (/sys/module/vrf). */
  readonly vrfModule: boolean;
  /** Running inside a container (cannot load modules). */
  readonly container: boolean;
  /** systemd-networkd runs (engine/managers.ts); absent: not looked at, as false. */
  readonly networkdRuns?: boolean;
}

// ---------------------------------------------------------------------------
// Desired state
// ---------------------------------------------------------------------------

/** A precise, operator-facing problem. `field` names the option and entry, e.g. `vrfs: storacc.table`. */
export interface Problem {
  readonly field: string;
  readonly message: string;
}

/** Non-fatal notes: missing gateways, excluded interfaces that do not exist, … */
export interface Warning {
  readonly field: string;
  readonly message: string;
}

/** A space held back because a family of its addresses has no known gateway: nothing is applied for it. */
export interface HeldSpace {
  readonly vrf: string;
  readonly binding: string;
  readonly members: readonly string[];
  /** The gateways that were found (of the other family). */
  readonly gateways: DesiredVrf['gateways'];
  /** The families without one. */
  readonly missing: readonly Family[];
  /** A VRF vrf-host built for it before is kept as the last apply left it. */
  readonly keptAsBefore: boolean;
}

export type DeriveResult =
  | {
      readonly ok: true;
      readonly desired: DesiredState;
      readonly warnings: readonly Warning[];
      readonly held: readonly HeldSpace[];
    }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly warnings: readonly Warning[] };

// ---------------------------------------------------------------------------
// Ledger: what vrf-host created or migrated (persisted in state.json)
// ---------------------------------------------------------------------------

export const EMPTY_LEDGER: Ledger = {
  vrfs: {},
  migratedRoutes: [],
  migratedRules: [],
  localRuleMoved: false,
  sysctlsBefore: {},
  ownedRules: [],
};

// ---------------------------------------------------------------------------
// Plan steps (a discriminated union; the planner emits them in apply order)
// ---------------------------------------------------------------------------

/** A route as the planner wants it: enough to render `ip route add|del|replace`. */
export interface RouteTarget {
  readonly family: Family;
  readonly table: number;
  readonly dst: string;
  readonly type: 'unicast' | 'unreachable';
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
}

export interface RuleTarget {
  readonly family: Family;
  readonly priority: number;
  readonly src?: string;
  /** `to PREFIX` (canonical): only the delivery rules (plan/rules.ts deliveryRules) have one. */
  readonly dst?: string;
  readonly table: number;
  /** The l3mdev rule (`ip rule add pref 1000 l3mdev`): no lookup table (table is TABLE.unspec). */
  readonly l3mdev?: boolean;
  /** `protocol …` on add (e.g. 'kernel' to give back a stock rule as the kernel made it); absent: unspec. */
  readonly protocol?: string;
}

export type Step =
  | { readonly kind: 'vrf-create'; readonly name: string; readonly table: number; readonly why?: string }
  | {
      readonly kind: 'vrf-replace';
      readonly name: string;
      readonly fromTable: number;
      readonly toTable: number;
      readonly why?: string;
    }
  | { readonly kind: 'vrf-delete'; readonly name: string; readonly why?: string }
  | { readonly kind: 'link-up'; readonly dev: string; readonly why?: string }
  /** A device the kernel brought up with its lower device (a VLAN that was down before the cycle). */
  | { readonly kind: 'link-down'; readonly dev: string; readonly why: string; readonly withCycle?: true }
  | { readonly kind: 'enslave'; readonly dev: string; readonly vrf: string; readonly why?: string }
  | { readonly kind: 'release'; readonly dev: string; readonly vrf: string; readonly why?: string }
  | { readonly kind: 'route-add'; readonly route: RouteTarget; readonly why: string; readonly withCycle?: true }
  | { readonly kind: 'route-del'; readonly route: RouteTarget; readonly why: string }
  | { readonly kind: 'rule-add'; readonly rule: RuleTarget; readonly why: string; readonly withCycle?: true }
  | { readonly kind: 'rule-del'; readonly rule: RuleTarget; readonly why: string; readonly withCycle?: true }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string; readonly why: string }
  /** A file handed to systemd-networkd (path relative to the root; src/vrf/networkd/render.ts). */
  | { readonly kind: 'networkd-write'; readonly path: string; readonly content: string; readonly why: string }
  | { readonly kind: 'networkd-remove'; readonly path: string; readonly why: string };

export type StepKind = Step['kind'];

/**
 * A step marked `withCycle` puts back, right after a step that cycled a device (an enslave, a
 * release, a VRF deleted with its members), what that cycle took: the routes it flushed from the
 * devices stacked on the cycled one, a VLAN it brought up, the delivery rules of the moved
 * device's addresses (plan/context.ts). Such lines name what was there a moment before: in one
 * ip -batch they fail only if the device vanished. An apply is judged after the cycle and its
 * follow-ups, as one.
 */
export function withCycle(s: Step): boolean {
  return 'withCycle' in s && s.withCycle === true;
}

/**
 * The routes and rules vrf-host keeps on the host once a plan has run (present already or
 * added by it): what systemd-networkd is handed too (src/vrf/networkd/render.ts).
 */
export interface Kept {
  readonly routes: readonly RouteTarget[];
  readonly rules: readonly RuleTarget[];
}

export const NOTHING_KEPT: Kept = { routes: [], rules: [] };

/** The result of planning: steps, plus the ledger as it will be once they have run. */
export interface Plan {
  readonly steps: readonly Step[];
  readonly ledger: Ledger;
  readonly kept: Kept;
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

export const TABLE = { unspec: 0, default: 253, main: 254, local: 255 } as const;
export const RESERVED_TABLES: readonly number[] = [0, 253, 254, 255];
export const RESERVED_VRF_NAMES: readonly string[] = ['main', 'local', 'default', 'unspec', 'all'];
/** The strict-mode catch-all: lower priority than any real default route. */
export const STRICT_METRIC = 4278198272;
/** The kernel's l3mdev rule. */
export const L3MDEV_PRIORITY = 1000;
/** Where the local lookup moves to when move-local-rule is on. */
export const LOCAL_RULE_MOVED_PRIORITY = 32765;
/** Per-address source rules (a member address's replies leave by its VRF's table); below MAAS's 100 and the l3mdev rule at 1000. */
export const SOURCE_RULE_PRIORITY = 99;
/**
 * `to ADDRESS lookup VRFTABLE`: ahead of the source rules another manager keeps re-adding for an
 * enslaved subnet (MAAS's `from SUBNET lookup N` at 100, which networkd re-adds), so that packets
 * to the unit's own address in that subnet (ARP included) are still delivered in its VRF.
 */
export const DELIVERY_RULE_PRIORITY = 98;
