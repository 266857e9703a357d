/**
 * Rules the ledger says vrf-host added, that this plan no longer keeps: deleted, whatever their
 * priority. The phases before this one recognise the rules of the running version by their shape
 * and priority; a rule an earlier version made at a priority this one no longer uses is found here,
 * by the ledger alone, so an upgrade that changes a priority orphans nothing (and teardown, which
 * keeps nothing, removes every rule the ledger lists).
 */
import type { Family } from '../types.js';
import type { PlanContext } from './context.js';
import { keyOfRuleTarget, ownedKeyOfRule, ruleKey, targetOfRule } from './keys.js';

export function dropUnkeptOwnedRules(ctx: PlanContext, f: Family): void {
  const kept = new Set(ctx.kept().rules.map(keyOfRuleTarget));
  // A key names its family: the other family's owned rules never match a rule of this one.
  const owned = new Set(
    ctx.ledger.ownedRules.map((r) => ruleKey(r.family, r.priority, r.src ?? null, r.table, r.dst ?? null)),
  );
  for (const r of [...ctx.model.allRules()]) {
    if (r.family !== f) continue;
    const key = ownedKeyOfRule(r);
    if (key === null || !owned.has(key) || kept.has(key)) continue;
    ctx.emit({
      kind: 'rule-del',
      rule: targetOfRule(r),
      why: `vrf-host added this rule (the ledger lists it) and no longer wants it`,
    });
  }
}
