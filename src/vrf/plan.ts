/**
 * The planner: (desired, observed, ledger) → ordered, typed steps, pure.
 *
 * Order (the kernel's needs first):
 *  0. tcp/udp_l3mdev_accept (a default-VRF service answers on a member from its enslave on, even
 *     if the apply stops there) and keep_addr_on_down, so enslaving does not lose IPv6 addresses;
 *     what drift took from the host's delivery to itself, back before anything changes (the local
 *     lookup, and the delivery rules of addresses still in their VRF: rules.ts deliveryBackFirst);
 *     then VRFs vrf-host owns but no longer wants: clear the table, release members, delete;
 *  1. the IPv6 delivery rules (see 2); create each VRF and bring it up (vrf-replace + create when
 *     an owned VRF's table changed);
 *  2. release links that left a VRF; the IPv4 delivery rules (`to ADDRESS lookup VRFTABLE`,
 *     `from ADDRESS lookup local`, pref 98), so the host delivers to and from every address at
 *     every step; enslave members (recording the static routes and the main-table RA default
 *     the kernel drops) and bring them up;
 *  3. carry migrated static routes into the VRF table, or give them back (a remembered RA
 *     default is never re-added: the kernel relearns it; it only keeps derivation stable);
 *  4. default route per family and the VRF's extra routes;
 *  5. strict: an unreachable catch-all per family; then stale vrf-host routes go;
 *  6. rules: the l3mdev rule if it went missing; move the local lookup to 32765 (add, then
 *     delete); migrate / restore source rules that would bypass a VRF; the delivery rules still
 *     missing (a VRF gaining a member: its table routed the address away until the enslave);
 *  7. preserve-reachability: leaks into main, per-address source rules; and main's default route
 *     through a VRF's device when the enslaves took main's last one (it went through a member);
 *     delivery rules no longer wanted go after the source rules they stood ahead of; then the
 *     rules the ledger says vrf-host added that nothing above kept (plan/owned.ts);
 *     (6 and 7 run for IPv4 first, then for IPv6: see rules.ts)
 *  8. sysctls (l3mdev accept, nonlocal bind), or their restore.
 *
 * It only touches what the ledger owns (VRFs, their tables, leaks via them, the rules it lists
 * as added, the moved local rule, sysctls it changed) and what it migrates now.
 * Every step runs on a kernel model as it is planned, so later phases see the host as
 * it will be and a converged host gives no steps.
 */
import type { DesiredState, Family, Ledger, ObservedHost, Plan } from './types.js';
import { PlanContext } from './plan/context.js';
import { createOrReplace, enslaveMembers, releaseFormerMembers, removeUndesired } from './plan/structure.js';
import { leaks, vrfRoutes } from './plan/routing.js';
import {
  deliveryRules,
  deliveryRulesFirst,
  ensureL3mdevRule,
  deliveryBackFirst,
  localRuleMove,
  migrateSourceRules,
  sourceRules,
  staleDeliveryRules,
} from './plan/rules.js';
import { sysctlsFirst, sysctls } from './plan/sysctls.js';
import { dropUnkeptOwnedRules } from './plan/owned.js';

export { PlanError } from './plan/context.js';

function rules(ctx: PlanContext, f: Family): void {
  ensureL3mdevRule(ctx, f);
  localRuleMove(ctx, f);
  migrateSourceRules(ctx, f);
  deliveryRules(ctx, f);
}

export function plan(desired: DesiredState, observed: ObservedHost, ledger: Ledger): Plan {
  const ctx = new PlanContext(desired, observed, ledger);
  sysctlsFirst(ctx);
  deliveryBackFirst(ctx);
  removeUndesired(ctx);
  deliveryRulesFirst(ctx, 'inet6');
  createOrReplace(ctx);
  deliveryRulesFirst(ctx, 'inet');
  releaseFormerMembers(ctx);
  enslaveMembers(ctx);
  vrfRoutes(ctx);
  // IPv4 rules (6, then 7 with the leaks), then IPv6 rules (6, 7): IPv6 rule lines need
  // `ip -6`, so keeping them together costs an apply one more ip process, not four.
  rules(ctx, 'inet');
  leaks(ctx);
  sourceRules(ctx, 'inet');
  staleDeliveryRules(ctx, 'inet');
  dropUnkeptOwnedRules(ctx, 'inet');
  rules(ctx, 'inet6');
  sourceRules(ctx, 'inet6');
  staleDeliveryRules(ctx, 'inet6');
  dropUnkeptOwnedRules(ctx, 'inet6');
  sysctls(ctx);
  return { steps: ctx.steps, ledger: ctx.ledgerAfter(), kept: ctx.kept() };
}
