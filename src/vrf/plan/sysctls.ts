/**
 * Sysctl phase. The value before vrf-host's first change is kept in the ledger
 * so teardown can put it back; a sysctl the kernel does not have (null) is
 * never written.
 */
import { OWNED_SYSCTLS, SYSCTL } from '../types.js';
import { desiredSysctls } from '../sysctl.js';
import type { PlanContext } from './context.js';

const WHY: Readonly<Record<string, string>> = {
  [SYSCTL.keepAddrOnDown]: 'enslaving cycles the device: without keep_addr_on_down its global IPv6 addresses are lost',
  [SYSCTL.tcpL3mdev]: 'l3mdev-accept: services listening in the default VRF answer TCP in every VRF',
  [SYSCTL.udpL3mdev]: 'l3mdev-accept: services listening in the default VRF answer UDP in every VRF',
  [SYSCTL.nonlocalBind4]: 'nonlocal-bind: default-VRF services may still bind to their space address (IPv4)',
  [SYSCTL.nonlocalBind6]: 'nonlocal-bind: default-VRF services may still bind to their space address (IPv6)',
};

/** The values the desired state asks for (one rule: desiredSysctls). */
function wantedSysctls(ctx: PlanContext): Map<string, string> {
  return new Map(Object.entries(desiredSysctls(ctx.desired)));
}

function set(ctx: PlanContext, key: string, value: string): void {
  const cur = ctx.model.sysctl(key);
  if (cur === null || cur === undefined || cur === value) return;
  if (!(key in ctx.sysctlsBefore)) ctx.sysctlsBefore[key] = cur;
  ctx.emit({ kind: 'sysctl', key, value, why: WHY[key] ?? key });
}

/**
 * keep_addr_on_down goes before any enslave or release (both cycle the device). When
 * nothing is desired any more (teardown), it is still set for the releases and put back
 * at the end with the other sysctls. tcp/udp_l3mdev_accept go first too: a default-VRF
 * service answers on an enslaved member only with them, so an apply that stops after an
 * enslave must not leave them off (turning them off, on teardown, stays last).
 */
export function sysctlsFirst(ctx: PlanContext): void {
  const want = wantedSysctls(ctx);
  for (const key of [SYSCTL.tcpL3mdev, SYSCTL.udpL3mdev]) {
    const l3 = want.get(key);
    if (l3 !== undefined) set(ctx, key, l3);
  }
  const v = want.get(SYSCTL.keepAddrOnDown);
  if (v !== undefined) {
    set(ctx, SYSCTL.keepAddrOnDown, v);
    return;
  }
  const releases = ctx.model.allLinks().some((l) => l.master !== null && ctx.vrfNames.has(l.master));
  if (releases) set(ctx, SYSCTL.keepAddrOnDown, '1');
}

export function sysctls(ctx: PlanContext): void {
  const want = wantedSysctls(ctx);
  for (const key of OWNED_SYSCTLS) {
    const v = want.get(key);
    if (v !== undefined) {
      set(ctx, key, v);
      continue;
    }
    // No value from before vrf-host in the ledger: vrf-host never changed it.
    const before = ctx.sysctlsBefore[key];
    if (before === undefined) continue;
    delete ctx.sysctlsBefore[key];
    // Nothing to put back: a value unknown before, a sysctl the kernel lacks or did not show now,
    // or one that is back at its value already.
    const cur = ctx.model.sysctl(key);
    if (before === null || cur === null || cur === undefined || cur === before) continue;
    ctx.emit({ kind: 'sysctl', key, value: before, why: `vrf-host no longer needs ${key}: restore ${before}` });
  }
}
