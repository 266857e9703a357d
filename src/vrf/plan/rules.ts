/**
 * Rule phases: move the local lookup behind the l3mdev rule, migrate source
 * rules that would bypass a VRF (MAAS-style), and the per-address source rules
 * of preserve-reachability.
 *
 * Each function works on one family: `ip rule` takes its family only from -4/-6
 * (an IPv6 rule line must run under `ip -6`), so the planner emits all IPv4 rule
 * work, then all IPv6 rule work, and an apply needs one `ip -6 -batch` process.
 */
import { maxPrefix } from '../addr.js';
import type { Family, Rule, RuleTarget } from '../types.js';
import {
  DELIVERY_RULE_PRIORITY,
  L3MDEV_PRIORITY,
  LOCAL_RULE_MOVED_PRIORITY,
  RESERVED_TABLES,
  SOURCE_RULE_PRIORITY,
  TABLE,
} from '../types.js';
import type { PlanContext } from './context.js';
import { isLocalLookup, isPlainLookup, isToLookup, keyOfRule, keyOfRuleTarget, ruleKey, targetOfRule } from './keys.js';
import { cidrContains } from '../addr.js';

function localRule(family: Family, priority: number): RuleTarget {
  return { family, priority, table: TABLE.local };
}

function hasLocalAt(ctx: PlanContext, family: Family, priority: number): boolean {
  return ctx.model.allRules().some((r) => r.family === family && r.priority === priority && isLocalLookup(r));
}

const hasL3mdevRule = (ctx: PlanContext, f: Family): boolean =>
  ctx.model.allRules().some((r) => r.family === f && r.l3mdev);
const famName = (f: Family): string => (f === 'inet' ? 'IPv4' : 'IPv6');

/** The l3mdev rule as the kernel makes it (`protocol kernel`), so a host that got it from us looks the same. */
function l3mdevTarget(f: Family): RuleTarget {
  return { family: f, priority: L3MDEV_PRIORITY, table: TABLE.unspec, l3mdev: true, protocol: 'kernel' };
}

/**
 * Before the first VRF vrf-host creates: add a missing l3mdev rule ourselves. The kernel adds it
 * only with the first VRF a namespace ever has (a namespace whose rule teardown deleted gets
 * none with its next VRF), and ignores an identical one already there (Debian 6.1: `rule add
 * pref 1000 l3mdev protocol kernel` then `link add … type vrf` leaves one rule per family).
 * IPv6 first: its line needs its own `ip -6` process; the IPv4 line joins the batch that
 * creates the VRFs. When no VRF exists and vrf-host owns none yet (its first apply here), the
 * rule was not there before vrf-host: the ledger says so, and teardown deletes it.
 */
export function l3mdevRuleBeforeFirstVrf(ctx: PlanContext): void {
  const firstHere = ctx.model.allLinks().every((l) => l.kind !== 'vrf') && Object.keys(ctx.ledger.vrfs).length === 0;
  for (const f of ['inet6', 'inet'] as const) {
    if (hasL3mdevRule(ctx, f)) continue;
    ctx.emit({
      kind: 'rule-add',
      rule: l3mdevTarget(f),
      why: `the l3mdev rule (${famName(f)}) sends lookups to the VRF tables; the kernel adds it only with a namespace's first VRF ever`,
    });
    if (firstHere) ctx.l3mdevRuleAdded.add(f);
  }
}

/**
 * While vrf-host has VRFs: if the l3mdev rule was deleted since, no VRF routes anything: put it
 * back. When it has none left and no other VRF is on the host: delete the rule it brought.
 */
export function ensureL3mdevRule(ctx: PlanContext, f: Family): void {
  if (!ctx.anyVrf) {
    if (!ctx.l3mdevRuleAdded.has(f)) return;
    // Another VRF on the host still needs it; it goes when vrf-host next runs without them.
    if (ctx.model.allLinks().some((l) => l.kind === 'vrf')) return;
    if (hasL3mdevRule(ctx, f)) {
      ctx.emit({
        kind: 'rule-del',
        rule: l3mdevTarget(f),
        why: `the l3mdev rule (${famName(f)}) came with vrf-host's first VRF and the kernel keeps it after the last: remove it`,
      });
    }
    ctx.l3mdevRuleAdded.delete(f);
    return;
  }
  if (hasL3mdevRule(ctx, f)) return;
  ctx.emit({
    kind: 'rule-add',
    rule: l3mdevTarget(f),
    why: `the l3mdev rule (${famName(f)}) is missing: without it no lookup reaches a VRF's table`,
  });
}

/** migrateSourceRules removes this rule while its subnet is in a VRF. */
function willMigrate(ctx: PlanContext, r: Rule): boolean {
  return (
    r.priority < L3MDEV_PRIORITY &&
    r.src !== null &&
    isPlainLookup(r) &&
    r.table !== null &&
    !RESERVED_TABLES.includes(r.table) &&
    !ctx.ownedTables.has(r.table) &&
    ctx.enslavedSubnets.covers(r.src)
  );
}

/**
 * A rule vrf-host neither owns nor migrates, ahead of where the local lookup would move. MAAS's
 * `from SUBNET lookup N` at 100 for a space that stays in main is one: behind it, packets (ARP
 * included) from that subnet to the host's own address would be routed out through table N
 * instead of delivered, cutting e.g. the controller's path. Such a host keeps its local lookup
 * at 0, as the kernel made it.
 */
export function ruleAheadOfMovedLocal(ctx: PlanContext): Rule | null {
  // Both families decide together: the ledger has one localRuleMoved for the host.
  for (const r of ctx.model.allRules()) {
    if (r.priority === 0 || r.priority >= LOCAL_RULE_MOVED_PRIORITY) continue;
    if (r.l3mdev || isLocalLookup(r) || willMigrate(ctx, r)) continue;
    if (r.table !== null && ctx.ownedTables.has(r.table)) continue;
    return r;
  }
  // A migrated rule whose subnet left its VRF comes back in this plan, at its old priority.
  for (const r of ctx.migratedRules.values()) {
    if (r.src === null || !ctx.enslavedSubnets.covers(r.src)) return r;
  }
  return null;
}

export function localRuleMove(ctx: PlanContext, f: Family): void {
  const wantMoved = ctx.desired.options.moveLocalRule && ctx.anyVrf && ruleAheadOfMovedLocal(ctx) === null;
  const at0 = hasLocalAt(ctx, f, 0);
  const moved = hasLocalAt(ctx, f, LOCAL_RULE_MOVED_PRIORITY);
  const movedRule = ctx.own(localRule(f, LOCAL_RULE_MOVED_PRIORITY));
  if (wantMoved) {
    if (at0) {
      // Add the new one first: the host must never be without a local lookup.
      if (!moved) {
        ctx.emit({
          kind: 'rule-add',
          rule: movedRule,
          why:
            `move-local-rule: the local lookup goes behind the l3mdev rule (${L3MDEV_PRIORITY})` +
            ` so VRF traffic to local addresses stays in its VRF`,
        });
      }
      ctx.emit({
        kind: 'rule-del',
        rule: localRule(f, 0),
        why: `move-local-rule: the local lookup now lives at ${LOCAL_RULE_MOVED_PRIORITY}`,
      });
      ctx.localRuleMoved = true;
      ctx.keepRule(movedRule);
    } else if (!moved && ctx.ledger.localRuleMoved) {
      ctx.emit({
        kind: 'rule-add',
        rule: movedRule,
        why: `the local lookup vrf-host moved to ${LOCAL_RULE_MOVED_PRIORITY} is missing`,
      });
      ctx.keepRule(movedRule);
    } else if (moved && ctx.localRuleMoved) {
      ctx.keepRule(movedRule);
    }
  } else if (ctx.ledger.localRuleMoved) {
    // As the kernel made it (`protocol kernel`); a plain `ip rule add` would say `protocol unspec`.
    if (!at0)
      ctx.emit({
        kind: 'rule-add',
        rule: { ...localRule(f, 0), protocol: 'kernel' },
        why: `restore the local lookup at priority 0`,
      });
    if (moved)
      ctx.emit({
        kind: 'rule-del',
        rule: localRule(f, LOCAL_RULE_MOVED_PRIORITY),
        why: `the local lookup is back at priority 0`,
      });
  }
  if (!wantMoved) ctx.localRuleMoved = false;
}

/** Source rules below the l3mdev rule that select an enslaved subnet would send its traffic around the VRF. */
export function migrateSourceRules(ctx: PlanContext, f: Family): void {
  for (const r of [...ctx.model.allRules()]) {
    if (r.family !== f || !willMigrate(ctx, r)) continue;
    const key = keyOfRule(r);
    if (key === null) continue;
    ctx.emit({
      kind: 'rule-del',
      rule: targetOfRule(r),
      why: `from ${r.src} lookup ${r.table} (priority ${r.priority}) would bypass the VRF of ${r.src}; restored on teardown`,
    });
    ctx.migratedRules.set(key, r);
  }
  for (const [key, r] of ctx.migratedRules) {
    if (r.family !== f) continue;
    if (r.src !== null && ctx.enslavedSubnets.covers(r.src)) continue;
    ctx.migratedRules.delete(key);
    const present = ctx.model.allRules().some((x) => keyOfRule(x) === key);
    if (!present)
      ctx.emit({
        kind: 'rule-add',
        rule: targetOfRule(r),
        why: `${r.src ?? 'all'} is no longer in a VRF: restore its rule at priority ${r.priority}`,
      });
  }
}

/** preserve-reachability: `from ADDRESS lookup VRFTABLE` for every member address. */
export function sourceRules(ctx: PlanContext, f: Family): void {
  const wanted = new Map<string, { t: RuleTarget; why: string }>();
  if (ctx.desired.options.preserveReachability) {
    for (const v of ctx.desired.vrfs) {
      for (const a of v.addresses) {
        if (a.family !== f) continue;
        const t: RuleTarget = ctx.own({
          family: a.family,
          priority: SOURCE_RULE_PRIORITY,
          src: `${a.address}/${maxPrefix(a.family)}`,
          table: v.table,
        });
        wanted.set(keyOfRuleTarget(t), {
          t,
          why: `preserve-reachability: traffic from ${a.address} (bound sockets) leaves through ${v.name}'s gateway`,
        });
      }
    }
  }
  reconcileRules(
    ctx,
    wanted,
    (r) =>
      r.family === f &&
      r.priority === SOURCE_RULE_PRIORITY &&
      isPlainLookup(r) &&
      r.table !== null &&
      ctx.ownedTables.has(r.table)
        ? ruleKey(r.family, r.priority, r.src, r.table)
        : null,
    (t) => `source rule for ${t.src ?? 'all'} lookup ${t.table} is no longer wanted`,
  );
}

/**
 * One kind of rule vrf-host owns, brought to what is wanted: each wanted rule is kept (and added
 * when missing); each present rule of the kind (`keyOfOwned` gives its key, null for any other
 * rule) that is not wanted is deleted.
 */
function reconcileRules(
  ctx: PlanContext,
  wanted: ReadonlyMap<string, { t: RuleTarget; why: string }>,
  keyOfOwned: (r: Rule) => string | null,
  staleWhy: (t: RuleTarget) => string,
): void {
  const present = new Set<string>();
  const stale: RuleTarget[] = [];
  for (const r of ctx.model.allRules()) {
    const key = keyOfOwned(r);
    if (key === null) continue;
    if (wanted.has(key)) present.add(key);
    else stale.push(targetOfRule(r));
  }
  for (const [key, w] of wanted) {
    ctx.keepRule(w.t);
    if (!present.has(key)) ctx.emit({ kind: 'rule-add', rule: w.t, why: w.why });
  }
  for (const t of stale) ctx.emit({ kind: 'rule-del', rule: t, why: staleWhy(t) });
}

/**
 * Delivery rules: `to ADDRESS lookup VRFTABLE` at DELIVERY_RULE_PRIORITY for each address of a VRF
 * in a subnet whose source rule vrf-host migrated (MAAS's `from SUBNET lookup N` at 100). The
 * host's network manager re-adds that rule whenever it configures the link (networkd does, from
 * netplan's `routing-policy`), and until the next hook migrates it again it sends every packet
 * from the subnet, the same-subnet peers' packets to the unit's own address and their ARP
 * requests included, into table N instead of delivering them (the local lookup is behind the
 * l3mdev rule). A rule for the unit's own address ahead of it delivers them in the VRF, whose
 * table holds the address's local route, whoever re-adds the source rule and whenever.
 */
export function deliveryRules(ctx: PlanContext, f: Family): void {
  const wanted = new Map<string, { t: RuleTarget; why: string }>();
  const foreign = [...ctx.migratedRules.values()].filter(
    (r) => r.family === f && r.src !== null && r.priority > DELIVERY_RULE_PRIORITY,
  );
  for (const v of ctx.desired.vrfs) {
    for (const a of v.addresses) {
      if (a.family !== f) continue;
      const by = foreign.find((r) => cidrContains(r.src!, a.address));
      if (!by) continue;
      const t: RuleTarget = ctx.own({
        family: a.family,
        priority: DELIVERY_RULE_PRIORITY,
        dst: `${a.address}/${maxPrefix(a.family)}`,
        table: v.table,
      });
      wanted.set(keyOfRuleTarget(t), {
        t,
        why:
          `packets to ${a.address} stay in ${v.name} even when "from ${by.src} lookup ${by.table}" ` +
          `(priority ${by.priority}) comes back, as the network manager re-adds it`,
      });
    }
  }
  reconcileRules(
    ctx,
    wanted,
    (r) =>
      r.family === f &&
      r.priority === DELIVERY_RULE_PRIORITY &&
      isToLookup(r) &&
      r.table !== null &&
      ctx.ownedTables.has(r.table)
        ? ruleKey(r.family, r.priority, null, r.table, r.dst)
        : null,
    (t) => `delivery rule to ${t.dst ?? 'all'} lookup ${t.table} is no longer wanted`,
  );
}
