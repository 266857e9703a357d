/**
 * What an older state file's ledger owned without saying so, made explicit for this version.
 *
 * Version 1 (every vrf-host before the ledger listed its rules) owned its rules by their shape:
 * `from ADDRESS lookup VRFTABLE` at 99 for each address of its VRFs (preserve-reachability),
 * `to ADDRESS lookup VRFTABLE` at 98 for an address in a subnet whose source rule it migrated,
 * and the local lookup at 32765 once it had moved it. Those are version 1's numbers, written here
 * as the facts they are: they must not follow the constants of the running version (that is the
 * point of listing the rules), so none of them is imported from types.ts.
 */
import { cidrContains, maxPrefix } from './addr.js';
import type { DesiredState, Ledger, LedgerV1, OwnedRule } from './types.js';
import { FAMILIES } from './types.js';

/** Version 1's priorities (src/vrf/types.ts as version 1 had them). */
export const V1_PRIORITY = { source: 99, delivery: 98, localMoved: 32765 } as const;
const LOCAL_TABLE = 255;

/**
 * The rules a version-1 vrf-host added for this ledger and the desired state it recorded. A rule
 * listed that is not on the host costs nothing (only rules present are ever deleted); one left
 * out would be orphaned, so this errs towards listing.
 */
export function rulesOwnedByV1(ledger: LedgerV1, desired: DesiredState | null): OwnedRule[] {
  const out: OwnedRule[] = [];
  if (desired !== null) {
    for (const v of desired.vrfs) {
      for (const a of v.addresses) {
        const host = `${a.address}/${maxPrefix(a.family)}`;
        if (desired.options.preserveReachability)
          out.push({ family: a.family, priority: V1_PRIORITY.source, src: host, table: v.table });
        const migrated = ledger.migratedRules.some(
          (r) =>
            r.family === a.family &&
            r.src !== null &&
            r.priority > V1_PRIORITY.delivery &&
            cidrContains(r.src, a.address),
        );
        if (migrated) out.push({ family: a.family, priority: V1_PRIORITY.delivery, dst: host, table: v.table });
      }
    }
  }
  if (ledger.localRuleMoved)
    for (const family of FAMILIES) out.push({ family, priority: V1_PRIORITY.localMoved, table: LOCAL_TABLE });
  return out;
}

/** A version-1 ledger as this version keeps it. */
export function ledgerFromV1(ledger: LedgerV1, desired: DesiredState | null): Ledger {
  return { ...ledger, ownedRules: rulesOwnedByV1(ledger, desired) };
}
