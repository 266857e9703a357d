/**
 * The persisted shapes of the VRF domain as zod schemas, and the types derived
 * from them: the desired state (what the boot unit replays), the ledger (what
 * teardown undoes) and the routes and rules they hold. The schema is the type,
 * so state.json can neither lose a field the code has nor gain one it has not.
 * types.ts re-exports the types; this module is only loaded where state is
 * parsed (persist.ts).
 */
import { z } from 'zod';
import { FAMILIES } from './types.js';

/** The type a schema parses to, readonly all the way down (parsed data is never mutated in place). */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type Parsed<S extends z.ZodType> = DeepReadonly<z.output<S>>;

const family = z.enum(FAMILIES);
const nullableStr = z.string().nullable();

export const routeSchema = z.object({
  family,
  /** Numeric table id (main = 254, local = 255, default = 253). */
  table: z.number().int().nonnegative(),
  /** Canonical CIDR; a default route is `0.0.0.0/0` or `::/0`. */
  dst: z.string(),
  /** 'unicast', 'local', 'broadcast', 'unreachable', 'blackhole', 'prohibit', 'multicast', 'anycast', 'throw'. */
  type: z.string(),
  gateway: nullableStr,
  dev: nullableStr,
  /** 'kernel', 'boot', 'static', 'ra', 'dhcp', or the number as a string. */
  protocol: z.string(),
  /** 'global', 'link', 'host'. */
  scope: z.string(),
  metric: z.number().int().nonnegative().nullable(),
  prefsrc: nullableStr,
});

export const ruleSchema = z.object({
  family,
  priority: z.number().int().nonnegative(),
  /** Canonical CIDR, or null for `from all`. */
  src: nullableStr,
  dst: nullableStr,
  /** Numeric table, or null for rules without a lookup table (l3mdev). */
  table: z.number().int().nonnegative().nullable(),
  l3mdev: z.boolean(),
  iif: nullableStr,
  oif: nullableStr,
  fwmark: nullableStr,
  /** 'lookup' (ip prints 'to_tbl'), 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit'. */
  action: z.string(),
  /**
   * Who made the rule: 'kernel' (the stock rules, the l3mdev rule a VRF adds), 'unspec' (a plain
   * `ip rule add`), 'static', 'boot', … Absent when ip did not print it (iproute2 < 4.17).
   */
  protocol: z.string().optional(),
});

/** Sysctl key → value; null: absent on this kernel. */
export const sysctlsSchema = z.record(z.string(), z.string().nullable());

/**
 * A rule vrf-host added and keeps, as it added it: the selectors `ip rule del` finds it by
 * (its protocol is not part of its identity). The ledger lists every one, so a later version
 * that puts its rules at other priorities still finds, and removes, the ones an earlier one made.
 */
export const ownedRuleSchema = z.object({
  family,
  priority: z.number().int().nonnegative(),
  src: z.string().optional(),
  dst: z.string().optional(),
  table: z.number().int().nonnegative(),
  protocol: z.string().optional(),
});

/** The ledger's fields that every state file version has kept (version 1 kept only these). */
const ledgerFields = {
  /** VRFs vrf-host created: name → table. Stable table ids live here. */
  vrfs: z.record(z.string(), z.number().int().positive()),
  /**
   * Routes vrf-host removed from their original table and must restore on teardown; also the
   * main-table `proto ra` defaults an enslave dropped, kept only so gateway derivation still
   * finds them (never restored: the kernel relearns them from the next advertisement).
   */
  migratedRoutes: z.array(routeSchema),
  /** Rules vrf-host removed (MAAS-style source rules) and must restore on teardown. */
  migratedRules: z.array(ruleSchema),
  /** vrf-host moved the local rule from pref 0 to 32765. */
  localRuleMoved: z.boolean(),
  /** Sysctl values before vrf-host first set them (null = absent). */
  sysctlsBefore: sysctlsSchema,
  /**
   * Families whose l3mdev rule (pref 1000) was not there before vrf-host's first VRF: the kernel
   * keeps it after the last VRF is deleted, so teardown deletes it. Absent (state files written
   * before this field existed) or empty: vrf-host leaves the l3mdev rule alone.
   */
  l3mdevRuleAdded: z.array(family).optional(),
  /**
   * The files vrf-host gave systemd-networkd (relative to the root: its VRFs' .netdev and
   * .network, its drop-ins on the members' .network files), so teardown removes exactly them.
   * Absent (state files written before it existed) or empty: none.
   */
  networkdFiles: z.array(z.string()).optional(),
};

/** The ledger of a version-1 state file: rule ownership was implicit (see src/vrf/upgrade.ts). */
export const ledgerV1Schema = z.object(ledgerFields);

/** What the ledger keeps per unit vrf-host runs inside a VRF (src/vrf/services/plan.ts). */
export const placedServiceSchema = z.object({
  unit: z.string(),
  vrf: z.string(),
  /** The VRF device's ifindex when the unit was (re)started in it. */
  ifindex: z.number().int().positive(),
  /** The unit's own ExecStart lines the drop-in was rendered from. */
  execStart: z.array(z.string()),
  /** The drop-in, relative to the root. */
  path: z.string(),
  /** The drop-in directory did not exist before vrf-host wrote into it. */
  createdDir: z.boolean(),
});

export const ledgerSchema = z.object({
  ...ledgerFields,
  /**
   * The units vrf-host runs inside a VRF, each with its drop-in (teardown removes exactly them and
   * restarts each back into the default VRF). Absent (state files written before it existed) or
   * empty: none.
   */
  services: z.array(placedServiceSchema).optional(),
  /**
   * Every rule vrf-host added and keeps (the per-address source and delivery rules, the moved
   * local lookup): what it owns, whatever priority the running version would give such a rule.
   */
  ownedRules: z.array(ownedRuleSchema),
});

/** Where a gateway came from; the first hit wins, in this order. */
export const gatewaySourceSchema = z.enum(['config', 'main-route', 'policy-table', 'netplan', 'ra']);

export const derivedGatewaySchema = z.object({
  family,
  address: z.string(),
  source: gatewaySourceSchema,
  /** Human detail, e.g. `main table default via ens4` or `/etc/netplan/50-cloud-init.yaml`. */
  detail: z.string(),
  /**
   * The member an IPv6 link-local gateway is reached through (a link-local address names no
   * link: the route needs `dev`). Absent for every other gateway, and in older state files.
   */
  dev: z.string().optional(),
});

export const routeSpecSchema = z.object({
  /** Canonical CIDR. */
  to: z.string(),
  via: z.string().optional(),
  metric: z.number().int().nonnegative().optional(),
});

export const memberAddressSchema = z.object({
  dev: z.string(),
  family,
  address: z.string(),
  prefixlen: z.number().int().nonnegative(),
  /** The subnet, canonical CIDR. */
  subnet: z.string(),
});

export const desiredVrfSchema = z.object({
  name: z.string(),
  binding: z.string(),
  table: z.number().int().positive(),
  tableSource: z.enum(['config', 'persisted', 'auto']),
  /** L3 devices to enslave (never a bridge or bond port). */
  members: z.array(z.string()),
  addresses: z.array(memberAddressSchema),
  gateways: z.object({ inet: derivedGatewaySchema.optional(), inet6: derivedGatewaySchema.optional() }),
  /** Extra prefixes for this space (explicit `routes` and `space-routes`), with `via` resolved. */
  routes: z.array(routeSpecSchema),
});

export const inMainBindingSchema = z.object({
  binding: z.string(),
  /** no-gateway: a family of its addresses has no known gateway, so nothing is applied for it. */
  reason: z.enum(['controller-path', 'same-as-default', 'excluded', 'no-gateway']),
  interfaces: z.array(z.string()),
});

/**
 * The host-wide switches of the engine (charm options strict, move-local-rule, preserve-reachability,
 * nonlocal-bind, l3mdev-accept): parsed from config into EngineConfig.options, carried whole into
 * DesiredState.options, persisted and compared as one object. A switch added later needs a
 * `.default(…)` here, so that state files written before it still parse.
 */
export const hostOptionsSchema = z.object({
  strict: z.boolean(),
  moveLocalRule: z.boolean(),
  preserveReachability: z.boolean(),
  nonlocalBind: z.boolean(),
  l3mdevAccept: z.boolean(),
});

const OPTION_KEYS = hostOptionsSchema.keyof().options;

/** A desired state as state files before `options` existed kept it (the switches at the top level). */
function liftOptions(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || 'options' in raw) return raw;
  const flat: Record<string, unknown> = { ...raw };
  const options: Record<string, unknown> = {};
  for (const k of OPTION_KEYS) {
    if (!(k in flat)) continue;
    options[k] = flat[k];
    delete flat[k];
  }
  return Object.keys(options).length > 0 ? { ...flat, options } : raw;
}

export const desiredStateSchema = z.preprocess(
  liftOptions,
  z.object({
    vrfs: z.array(desiredVrfSchema),
    /** Bindings deliberately left in the main table, with the reason (reported to the operator). */
    inMain: z.array(inMainBindingSchema),
    options: hostOptionsSchema,
  }),
);

export type Route = Parsed<typeof routeSchema>;
export type Rule = Parsed<typeof ruleSchema>;
export type Sysctls = Parsed<typeof sysctlsSchema>;
export type Ledger = Parsed<typeof ledgerSchema>;
export type LedgerV1 = Parsed<typeof ledgerV1Schema>;
export type OwnedRule = Parsed<typeof ownedRuleSchema>;
export type PlacedService = Parsed<typeof placedServiceSchema>;
export type GatewaySource = Parsed<typeof gatewaySourceSchema>;
export type DerivedGateway = Parsed<typeof derivedGatewaySchema>;
export type RouteSpec = Parsed<typeof routeSpecSchema>;
export type MemberAddress = Parsed<typeof memberAddressSchema>;
export type DesiredVrf = Parsed<typeof desiredVrfSchema>;
export type InMainBinding = Parsed<typeof inMainBindingSchema>;
export type HostOptions = Parsed<typeof hostOptionsSchema>;
export type DesiredState = Parsed<typeof desiredStateSchema>;
