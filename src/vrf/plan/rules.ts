/**
 * Rule phases: move the local lookup behind the l3mdev rule, migrate source
 * rules that would bypass a VRF (MAAS-style), and the per-address source rules
 * of preserve-reachability.
 *
 * Each function works on one family: `ip rule` takes its family only from -4/-6
 * (an IPv6 rule line must run under `ip -6`), so the planner emits all IPv4 rule
 * work, then all IPv6 rule work, and an apply needs one `ip -6 -batch` process.
 */
import { cidrContains, maxPrefix } from '../addr.js';
import type { Family, Rule, RuleTarget } from '../types.js';
import {
  FAMILIES,
  DELIVERY_RULE_PRIORITY,
  L3MDEV_PRIORITY,
  LOCAL_RULE_MOVED_PRIORITY,
  RESERVED_TABLES,
  SOURCE_RULE_PRIORITY,
  TABLE,
} from '../types.js';
import type { PlanContext } from './context.js';
import {
  isLocalLookup,
  isPlainLookup,
  isToLookup,
  keyOfRule,
  keyOfRuleTarget,
  ownedKeyOfRule,
  ruleKey,
  targetOfRule,
} from './keys.js';

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

/** One of vrf-host's `from ADDRESS lookup local` delivery rules: in the ledger, or for a desired VRF's address. */
function isOwnFromLocal(ctx: PlanContext, r: Rule): boolean {
  if (!isFromLocal(r) || r.src === null) return false;
  if (ctx.ownedRuleKeys.has(ruleKey(r.family, r.priority, r.src, r.table))) return true;
  return ctx.desired.vrfs.some((v) => v.addresses.some((a) => `${a.address}/${maxPrefix(a.family)}` === r.src));
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
    if (r.l3mdev || isLocalLookup(r) || willMigrate(ctx, r) || isOwnFromLocal(ctx, r)) continue;
    if (r.table !== null && ctx.ownedTables.has(r.table)) continue;
    return r;
  }
  // A migrated rule whose subnet left its VRF comes back in this plan, at its old priority.
  for (const r of ctx.migratedRules.values()) {
    if (r.src === null || !ctx.enslavedSubnets.covers(r.src)) return r;
  }
  return null;
}

/** The local lookup moves (or stays moved) to LOCAL_RULE_MOVED_PRIORITY in this plan. */
function wantLocalMoved(ctx: PlanContext): boolean {
  return ctx.desired.options.moveLocalRule && ctx.anyVrf && ruleAheadOfMovedLocal(ctx) === null;
}

/**
 * Before anything else, per family: what the host's delivery to itself had from vrf-host and
 * drift took (rules deleted by hand, a networkd reconfigure), back where it was, so that the
 * steps that follow only ever start from a host that delivers as vrf-host left it:
 *  - a local lookup vrf-host moved that is gone altogether (as a networkd reconfigure leaves it),
 *    where the plan will leave it. Until then the host delivers to a space address only through
 *    its `to` rule into the VRF's table, and the first release or move of a member would leave
 *    that address with no lookup at all;
 *  - each delivery rule the ledger says vrf-host added that is missing while it would deliver:
 *    `to ADDRESS lookup TABLE` whose table holds the address's local route now, and `from
 *    ADDRESS lookup local` for an address in a VRF now while the local lookup is behind it. Both
 *    only ever deliver to the host's own addresses, so they are never worse; without them an
 *    address the plan releases or moves later loses, until its member's step, whatever its
 *    other rules delivered by chance (the other addresses of its VRF's table). One this plan
 *    does not keep goes with its member (rulesFollowMember) or after the source rules
 *    (staleDeliveryRules), as any other.
 */
export function deliveryBackFirst(ctx: PlanContext): void {
  for (const f of FAMILIES) {
    localLookupBack(ctx, f);
    deliveryRulesBack(ctx, f);
  }
}

function localLookupBack(ctx: PlanContext, f: Family): void {
  if (!ctx.ledger.localRuleMoved) return;
  if (ctx.model.allRules().some((r) => r.family === f && isLocalLookup(r))) return;
  if (wantLocalMoved(ctx)) {
    ctx.emit({
      kind: 'rule-add',
      rule: ctx.own(localRule(f, LOCAL_RULE_MOVED_PRIORITY)),
      why:
        `the local lookup vrf-host moved to ${LOCAL_RULE_MOVED_PRIORITY} is missing: ` +
        'back first, so the host delivers to itself at every step',
    });
  } else {
    ctx.emit({
      kind: 'rule-add',
      rule: { ...localRule(f, 0), protocol: 'kernel' },
      why: `the local lookup is missing: back at priority 0 first, so the host delivers to itself at every step`,
    });
  }
}

/** The owned VRF table that holds `host`'s local route now, if any. */
function vrfTableHolding(ctx: PlanContext, host: string): number | undefined {
  for (const t of ctx.ownedTables)
    if (ctx.model.entriesIn(t).some(([, r]) => r.type === 'local' && r.dst === host)) return t;
  return undefined;
}

function deliveryRulesBack(ctx: PlanContext, f: Family): void {
  const present = new Set(ctx.model.allRules().map(ownedKeyOfRule));
  const localBehind = !ctx.model
    .allRules()
    .some((r) => r.family === f && isLocalLookup(r) && r.priority < DELIVERY_RULE_PRIORITY);
  for (const o of ctx.ledger.ownedRules) {
    if (o.family !== f || o.priority !== DELIVERY_RULE_PRIORITY) continue;
    const t: RuleTarget = ctx.own({
      family: f,
      priority: DELIVERY_RULE_PRIORITY,
      ...(o.src === undefined ? {} : { src: o.src }),
      ...(o.dst === undefined ? {} : { dst: o.dst }),
      table: o.table,
    });
    if (present.has(keyOfRuleTarget(t))) continue;
    const delivers =
      t.dst !== undefined
        ? vrfTableHolding(ctx, t.dst) === t.table
        : t.src !== undefined && t.table === TABLE.local && localBehind && vrfTableHolding(ctx, t.src) !== undefined;
    if (!delivers) continue;
    const why =
      t.dst !== undefined
        ? `the delivery rule to ${t.dst} lookup ${t.table} is missing: ` +
          `back first, so the host delivers to ${t.dst} at every step`
        : `the delivery rule from ${t.src ?? 'all'} lookup local is missing: ` +
          `back first, so ${t.src ?? 'all'} reaches the host's other addresses at every step`;
    ctx.emit({ kind: 'rule-add', rule: t, why });
    present.add(keyOfRuleTarget(t));
  }
}

export function localRuleMove(ctx: PlanContext, f: Family): void {
  const wantMoved = wantLocalMoved(ctx);
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
interface WantedRule {
  readonly t: RuleTarget;
  readonly why: string;
}

/** preserve-reachability's `from ADDRESS lookup VRFTABLE` at SOURCE_RULE_PRIORITY, per VRF address of a family. */
function wantedSource(ctx: PlanContext, f: Family): Map<string, WantedRule> {
  const wanted = new Map<string, WantedRule>();
  if (!ctx.desired.options.preserveReachability) return wanted;
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
  return wanted;
}

/** The key of a source rule of vrf-host's (one of its tables, at SOURCE_RULE_PRIORITY), null for any other rule. */
function sourceKey(ctx: PlanContext, f: Family): (r: Rule) => string | null {
  return (r) =>
    r.family === f &&
    r.priority === SOURCE_RULE_PRIORITY &&
    isPlainLookup(r) &&
    r.table !== null &&
    ctx.ownedTables.has(r.table)
      ? ruleKey(r.family, r.priority, r.src, r.table)
      : null;
}

export function sourceRules(ctx: PlanContext, f: Family): void {
  reconcileRules(
    ctx,
    wantedSource(ctx, f),
    sourceKey(ctx, f),
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
  wanted: ReadonlyMap<string, WantedRule>,
  keyOfOwned: (r: Rule) => string | null,
  staleWhy: (t: RuleTarget) => string,
): void {
  addWanted(ctx, wanted, keyOfOwned);
  deleteStale(ctx, wanted, keyOfOwned, staleWhy);
}

function addWanted(
  ctx: PlanContext,
  wanted: ReadonlyMap<string, WantedRule>,
  keyOfOwned: (r: Rule) => string | null,
): void {
  const present = new Set<string>();
  for (const r of ctx.model.allRules()) {
    const key = keyOfOwned(r);
    if (key !== null && wanted.has(key)) present.add(key);
  }
  for (const [key, w] of wanted) {
    ctx.keepRule(w.t);
    if (!present.has(key)) ctx.emit({ kind: 'rule-add', rule: w.t, why: w.why });
  }
}

function deleteStale(
  ctx: PlanContext,
  wanted: ReadonlyMap<string, WantedRule>,
  keyOfOwned: (r: Rule) => string | null,
  staleWhy: (t: RuleTarget) => string,
): void {
  const stale: RuleTarget[] = [];
  for (const r of ctx.model.allRules()) {
    const key = keyOfOwned(r);
    if (key !== null && !wanted.has(key)) stale.push(targetOfRule(r));
  }
  for (const t of stale) ctx.emit({ kind: 'rule-del', rule: t, why: staleWhy(t) });
}

/**
 * Delivery rules, at DELIVERY_RULE_PRIORITY, for each address of a VRF that a rule ahead of the
 * moved local lookup would otherwise catch: vrf-host's own source rule (`from ADDRESS lookup
 * VRFTABLE` at 99, preserve-reachability), or a source rule it migrated that the host's network
 * manager re-adds (MAAS's `from SUBNET lookup N` at 100: networkd re-adds it from netplan's
 * `routing-policy` whenever it configures the link). Two per address:
 *  - `to ADDRESS lookup VRFTABLE`: packets to the address (from the host itself, or, MAAS's rule
 *    back, the same-subnet peers' packets and their ARP requests) are delivered in its VRF,
 *    whose table holds the address's local route;
 *  - `from ADDRESS lookup local`, while the local lookup is moved behind them: packets from the
 *    address to another of the host's addresses in the default VRF (the mgmt address, say) are
 *    delivered, not sent to the space's gateway; the local table answers nothing else (the
 *    space's own local routes are in its VRF's). With the local lookup at 0 it is not needed.
 * The second's table is the kernel's: only the ledger (ownedRules) says it is vrf-host's.
 */
function wantedDelivery(ctx: PlanContext, f: Family): Map<string, WantedRule> {
  const wanted = new Map<string, WantedRule>();
  const foreign = [...ctx.migratedRules.values(), ...ctx.model.allRules().filter((r) => willMigrate(ctx, r))].filter(
    (r) => r.family === f && r.src !== null && r.priority > DELIVERY_RULE_PRIORITY,
  );
  const pr = ctx.desired.options.preserveReachability;
  // The local lookup behind the source rules: moved by vrf-host now, or found there.
  const localMoved =
    wantLocalMoved(ctx) ||
    !ctx.model.allRules().some((r) => r.family === f && isLocalLookup(r) && r.priority < DELIVERY_RULE_PRIORITY);
  for (const v of ctx.desired.vrfs) {
    for (const a of v.addresses) {
      if (a.family !== f) continue;
      const by = pr ? undefined : foreign.find((r) => cidrContains(r.src!, a.address));
      if (!pr && by === undefined) continue;
      const ahead =
        by === undefined
          ? `vrf-host's source rule for ${a.address} (priority ${SOURCE_RULE_PRIORITY})`
          : `"from ${by.src} lookup ${by.table}" (priority ${by.priority}) when the network manager re-adds it`;
      const host = `${a.address}/${maxPrefix(f)}`;
      const to: RuleTarget = ctx.own({ family: f, priority: DELIVERY_RULE_PRIORITY, dst: host, table: v.table });
      wanted.set(keyOfRuleTarget(to), {
        t: to,
        why: `packets to ${a.address} are delivered in ${v.name}, ahead of ${ahead}`,
      });
      if (!localMoved) continue;
      const from: RuleTarget = ctx.own({ family: f, priority: DELIVERY_RULE_PRIORITY, src: host, table: TABLE.local });
      wanted.set(keyOfRuleTarget(from), {
        t: from,
        why: `packets from ${a.address} to the host's other addresses are delivered, ahead of ${ahead}`,
      });
    }
  }
  return wanted;
}

/** A `from ADDRESS lookup local` rule at the delivery priority: vrf-host's when the ledger says so, or wanted now. */
function isFromLocal(r: Rule): boolean {
  return isPlainLookup(r) && r.src !== null && r.table === TABLE.local && r.priority === DELIVERY_RULE_PRIORITY;
}

/** The key of a delivery rule of vrf-host's (wanted now, or owned), null for any other rule. */
function deliveryKey(ctx: PlanContext, f: Family, wanted: ReadonlyMap<string, WantedRule>): (r: Rule) => string | null {
  return (r) => {
    if (r.family !== f || r.priority !== DELIVERY_RULE_PRIORITY || r.table === null) return null;
    if (isToLookup(r) && ctx.ownedTables.has(r.table)) return ruleKey(r.family, r.priority, null, r.table, r.dst);
    if (!isFromLocal(r)) return null;
    const key = ruleKey(r.family, r.priority, r.src, r.table);
    return wanted.has(key) || ctx.ownedRuleKeys.has(key) ? key : null;
  };
}

/**
 * Does `table` route `address` anywhere but to the host (a default route, a strict catch-all)?
 * With `orNowhere`, also when it holds nothing for it (a rule into it does not deliver either).
 */
function routesAway(ctx: PlanContext, table: number, address: string, orNowhere = false): boolean {
  const covering = ctx.model.entriesIn(table).filter(([, r]) => cidrContains(r.dst, address));
  return (orNowhere || covering.length > 0) && !covering.some(([, r]) => r.type === 'local');
}

/**
 * Before the enslaves: the delivery rules of a family, so that no prefix of the plan has a space
 * address the host does not deliver to. A `to ADDRESS lookup VRFTABLE` rule passes the lookup on
 * while the table holds nothing for the address (a new VRF's table, empty or not yet created),
 * and delivers from the moment the enslave moves the address's local route into it. A table
 * that would route the address away before that (a VRF gaining a member, whose table has its
 * default already) gets the rule after the enslave. The IPv6 ones go ahead of the VRFs'
 * creation, next to the IPv6 l3mdev rule: IPv6 rule lines need their own `ip -6` process.
 */
export function deliveryRulesFirst(ctx: PlanContext, f: Family): void {
  const wanted = wantedDelivery(ctx, f);
  const key = deliveryKey(ctx, f, wanted);
  // A `to ADDRESS lookup TABLE` rule of vrf-host's that is not wanted and whose table does not hold
  // the address (a member that left, or an apply that stopped before the enslave) never delivers:
  // it passes the lookup on, or sends the address away once the table has a default. It goes first.
  for (const r of ctx.model.allRules()) {
    if (!isToLookup(r) || r.dst === null || r.table === null) continue;
    const k = key(r);
    if (k === null || wanted.has(k) || !routesAway(ctx, r.table, r.dst.split('/')[0]!, true)) continue;
    ctx.emit({
      kind: 'rule-del',
      rule: targetOfRule(r),
      why: `delivery rule to ${r.dst} lookup ${r.table} is no longer wanted, and that table does not hold ${r.dst}`,
    });
  }
  const present = new Set(ctx.model.allRules().map(key));
  for (const [k, w] of wanted) {
    if (present.has(k)) continue;
    if (w.t.dst !== undefined && routesAway(ctx, w.t.table, w.t.dst.split('/')[0]!)) continue;
    ctx.emit({ kind: 'rule-add', rule: w.t, why: w.why });
  }
}

/**
 * Right after `dev` joined or left a VRF, as part of that step (withCycle): the rules of its
 * addresses follow it. A `to ADDRESS lookup TABLE` delivery rule, or a `from ADDRESS lookup
 * TABLE` source rule, into a table the address's local route is no longer in catches the
 * address's packets as soon as that table routes them away (the VRF keeps, or gets later in the
 * plan, a default route for its other members): it goes. And the delivery rule into its new
 * table, which may have waited for the enslave (that table routed it away before), comes. A
 * released address needs neither: the local table has it again, and its traffic is main's.
 */
export function rulesFollowMember(ctx: PlanContext, dev: string): void {
  const table = ctx.model.tableOf(dev).local;
  for (const f of FAMILIES) {
    const hosts = new Set(
      ctx.model
        .addrsOf(dev)
        .filter((a) => a.family === f && a.scope === 'global')
        .map((a) => `${a.address}/${maxPrefix(f)}`),
    );
    if (hosts.size === 0) continue;
    const wanted = wantedDelivery(ctx, f);
    const key = deliveryKey(ctx, f, wanted);
    const sources = wantedSource(ctx, f);
    const source = sourceKey(ctx, f);
    const stale = ctx.model.allRules().filter((r) => {
      if (r.table === table) return false;
      if (isToLookup(r) && r.dst !== null && hosts.has(r.dst)) return key(r) !== null && !wanted.has(key(r)!);
      if (r.src !== null && hosts.has(r.src)) return source(r) !== null && !sources.has(source(r)!);
      return false;
    });
    for (const r of stale)
      ctx.emit({
        kind: 'rule-del',
        rule: targetOfRule(r),
        why: `${dev} is no longer in the VRF of table ${r.table ?? '?'}, whose routes would send ${r.dst ?? r.src ?? '?'}'s packets away`,
        withCycle: true,
      });
    const present = new Set(ctx.model.allRules().map(key));
    for (const [k, w] of wanted) {
      if (w.t.dst === undefined || !hosts.has(w.t.dst) || w.t.table !== table || present.has(k)) continue;
      ctx.emit({ kind: 'rule-add', rule: w.t, why: w.why, withCycle: true });
    }
  }
}

/** The rules phase: every delivery rule that is wanted is kept, and added if still missing. */
export function deliveryRules(ctx: PlanContext, f: Family): void {
  const wanted = wantedDelivery(ctx, f);
  addWanted(ctx, wanted, deliveryKey(ctx, f, wanted));
}

/**
 * After the source rules: delivery rules no longer wanted go last, so that no prefix of a plan
 * (a teardown's included) has a source rule at 99 without the delivery rules ahead of it.
 */
export function staleDeliveryRules(ctx: PlanContext, f: Family): void {
  const wanted = wantedDelivery(ctx, f);
  deleteStale(ctx, wanted, deliveryKey(ctx, f, wanted), (t) =>
    t.dst !== undefined
      ? `delivery rule to ${t.dst} lookup ${t.table} is no longer wanted`
      : `delivery rule from ${t.src ?? 'all'} lookup local is no longer wanted`,
  );
}
