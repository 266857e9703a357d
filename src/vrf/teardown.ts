/**
 * Teardown: undo everything the ledger records. Release the members, clear and
 * delete the VRFs, give back the migrated routes and rules and the local rule,
 * drop the leaks and source rules, and put the sysctls back as they were. A
 * remembered RA default is forgotten, not re-added: the kernel relearns it from
 * the next advertisement (a permanent copy would outlive a router change).
 *
 * It is the planner with nothing desired and every option off, so it follows the
 * same order and touches exactly what the ledger owns.
 */
import { plan } from './plan.js';
import type { DesiredState, Ledger, ObservedHost, Plan } from './types.js';
import { EMPTY_LEDGER, NOTHING_KEPT } from './types.js';

export const NOTHING_DESIRED: DesiredState = {
  vrfs: [],
  inMain: [],
  options: {
    strict: false,
    moveLocalRule: false,
    preserveReachability: false,
    nonlocalBind: false,
    l3mdevAccept: false,
  },
};

export function planTeardown(observed: ObservedHost, ledger: Ledger): Plan {
  const p = plan(NOTHING_DESIRED, observed, ledger);
  return { steps: p.steps, ledger: EMPTY_LEDGER, kept: NOTHING_KEPT };
}
