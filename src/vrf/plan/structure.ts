/**
 * Structural phases: remove VRFs vrf-host no longer wants, create or replace the
 * desired ones, release links that left a VRF, enslave members (recording the
 * static routes and the RA default the kernel is about to drop).
 */
import { TABLE } from '../types.js';
import type { PlanContext } from './context.js';
import { PlanError } from './context.js';
import { isKernelRoute, isMainRaDefault, isManagedRoute, routeId, targetOfRoute } from './keys.js';
import { rulesFollowMember, l3mdevRuleBeforeFirstVrf } from './rules.js';

/** Deletes the routes vrf-host put in `table` (the kernel keeps e.g. an unreachable default after the VRF goes). */
function clearTable(ctx: PlanContext, table: number, vrf: string, reason: string): void {
  for (const [, r] of ctx.model.entriesIn(table)) {
    if (!isManagedRoute(r)) continue;
    ctx.emit({
      kind: 'route-del',
      route: targetOfRoute(r),
      why: `${reason}: remove ${r.dst} from table ${table} of ${vrf}`,
    });
  }
}

export function removeUndesired(ctx: PlanContext): void {
  const leaving: Array<{ name: string; table: number }> = [];
  for (const [name, table] of Object.entries(ctx.ledger.vrfs)) {
    if (ctx.desiredByName.has(name)) continue;
    const l = ctx.model.link(name);
    if (!l || l.kind !== 'vrf') {
      // The device is gone (e.g. deleted by hand); routes it left in its table are still ours.
      clearTable(ctx, table, name, `VRF ${name} is gone`);
      continue;
    }
    leaving.push({ name, table: l.vrfTable ?? table });
  }
  // Every leaving VRF's table is cleared before any member is released: until the rules phase a
  // delivery rule (`to ADDRESS lookup TABLE`) still sends the members' addresses into the table,
  // which must then hold the kernel's local routes or nothing, never a default or the strict
  // catch-all. And releasing a device cycles the VLANs on it (bond0.105 on bond0), whose routes
  // the kernel then drops from another VRF's table: cleared first, none is missing later.
  for (const { name, table } of leaving) clearTable(ctx, table, name, `VRF ${name} is no longer wanted`);
  for (const { name } of leaving) {
    for (const m of ctx.model.allLinks()) {
      if (m.master !== name) continue;
      ctx.emit({
        kind: 'release',
        dev: m.name,
        vrf: name,
        why: `VRF ${name} is no longer wanted: give ${m.name} back to the main table`,
      });
    }
    ctx.emit({ kind: 'vrf-delete', name, why: `VRF ${name} is no longer wanted (vrf-host created it)` });
  }
}

export function createOrReplace(ctx: PlanContext): void {
  for (const v of ctx.desired.vrfs) {
    const l = ctx.model.link(v.name);
    if (!l) {
      // Once the first VRF's rule is on the model, the next call finds it there and adds nothing.
      l3mdevRuleBeforeFirstVrf(ctx);
      ctx.emit({
        kind: 'vrf-create',
        name: v.name,
        table: v.table,
        why: `VRF for binding ${v.binding} with its own routing table ${v.table}`,
      });
      ctx.emit({ kind: 'link-up', dev: v.name, why: `a VRF routes nothing until it is up` });
      continue;
    }
    if (l.kind !== 'vrf')
      throw new PlanError(`${v.name} exists and is not a VRF (kind ${l.kind ?? 'nic'}); choose another VRF name`);
    if (l.vrfTable !== v.table) {
      if (!(v.name in ctx.ledger.vrfs)) {
        throw new PlanError(
          `VRF ${v.name} exists with table ${l.vrfTable ?? '?'} and was not created by vrf-host; it will not be replaced`,
        );
      }
      const from = l.vrfTable ?? 0;
      clearTable(ctx, from, v.name, `table of ${v.name} changes from ${from} to ${v.table}`);
      ctx.emit({
        kind: 'vrf-replace',
        name: v.name,
        fromTable: from,
        toTable: v.table,
        why: `the kernel cannot change a VRF's table: ${v.name} is deleted and created again with table ${v.table}`,
      });
      l3mdevRuleBeforeFirstVrf(ctx);
      ctx.emit({
        kind: 'vrf-create',
        name: v.name,
        table: v.table,
        why: `VRF ${v.name} again, now with table ${v.table}`,
      });
      ctx.emit({ kind: 'link-up', dev: v.name, why: `a VRF routes nothing until it is up` });
      continue;
    }
    if (!l.up) ctx.emit({ kind: 'link-up', dev: v.name, why: `VRF ${v.name} is down` });
  }
}

export function releaseFormerMembers(ctx: PlanContext): void {
  for (const l of ctx.model.allLinks()) {
    if (l.master === null || !ctx.vrfNames.has(l.master)) continue;
    if (ctx.model.link(l.master)?.kind !== 'vrf') continue;
    if (ctx.memberOf.has(l.name)) continue; // enslaving to its new VRF moves it directly
    ctx.emit({
      kind: 'release',
      dev: l.name,
      vrf: l.master,
      why: `${l.name} is no longer a member of ${l.master} (e.g. it became a bridge or bond port, or its binding moved)`,
    });
    rulesFollowMember(ctx, l.name);
  }
}

export function enslaveMembers(ctx: PlanContext): void {
  for (const v of ctx.desired.vrfs) {
    for (const dev of v.members) {
      const l = ctx.model.link(dev);
      if (!l) throw new PlanError(`member ${dev} of VRF ${v.name} does not exist on this host`);
      if (l.master !== v.name) {
        if (l.master !== null && ctx.model.link(l.master)?.kind !== 'vrf') {
          throw new PlanError(`${dev} is a port of ${l.master} and cannot be enslaved to ${v.name}`);
        }
        if (l.master !== null && !ctx.vrfNames.has(l.master)) {
          throw new PlanError(
            `${dev} is in VRF ${l.master}, which vrf-host did not create; it will not be moved to ${v.name}`,
          );
        }
        // The kernel drops every route via the device on enslave: remember the ones we must
        // carry into the VRF (main table) or give back on teardown (other policy tables), and
        // the router-advertised default, so derivation keeps finding that gateway (source 'ra')
        // once main no longer shows it; it is never put back as a permanent route (routing.ts).
        for (const r of ctx.model.routesVia(dev)) {
          if ((isKernelRoute(r) && !isMainRaDefault(r)) || r.type !== 'unicast') continue;
          // An IPv4 route via an IPv6 next hop (RFC 5549) cannot be rendered back: leave it to the kernel.
          if (r.gateway !== null && r.gateway.includes(':') !== (r.family === 'inet6')) continue;
          if (r.table === TABLE.local || ctx.ownedTables.has(r.table)) continue;
          ctx.migratedRoutes.set(routeId(r), r);
        }
        ctx.emit({
          kind: 'enslave',
          dev,
          vrf: v.name,
          why: `${dev} carries binding ${v.binding}: its traffic belongs to VRF ${v.name}`,
        });
        rulesFollowMember(ctx, dev);
      }
      if (!ctx.model.link(dev)?.up) ctx.emit({ kind: 'link-up', dev, why: `member ${dev} of ${v.name} is down` });
    }
  }
}
