/**
 * Apply until the host holds still: apply the plan, observe again, and apply what
 * another actor undid meanwhile, for a bounded number of rounds.
 *
 * A host's network manager reacts to what vrf-host does: the VRF driver takes a member
 * down and up on enslave, and systemd-networkd answers that carrier change by configuring
 * the link again, which can flush the routes vrf-host just added via it. A hook that
 * trusted its first apply would report success on a host that is not converged; the next
 * update-status (minutes later) would heal it. So after an apply the host is read again
 * and, while it differs from the desired state, planned and applied again, at most
 * `rounds` applies in all. When the bound is hit, the report names what kept changing.
 *
 * A run whose first plan is empty never comes here: the no-op update-status costs nothing
 * more than before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApplyFailure, applySteps } from '../apply.js';
import { type HostState, unionLedger, writeState } from '../persist.js';
import type { Ledger, ObservedHost, Step, Warning } from '../types.js';
import { type EngineDeps, type ObserveOptions, observeHost } from './host.js';
import { reloadNetworkd } from './networkd.js';
import { planned, type PlannedStep, type Unsettled } from './report.js';

/** Apply rounds in one converge (the first apply and up to two re-applies). */
export const APPLY_ROUNDS = 3;
/** How long to let the host's network manager react to an apply before reading the host again. */
export const SETTLE_MS = 300;

export interface SettleOptions extends ObserveOptions {
  /**
   * At most this many apply rounds (default APPLY_ROUNDS). 0: apply once and do not read the
   * host again — only for a test host whose fake ip never changes (the e2e suite).
   */
  readonly rounds?: number;
  /** Pause before each re-observe, in ms (default SETTLE_MS). */
  readonly settleMs?: number;
}

/** One round's plan: the planner's steps and networkd's files (networkd.ts planWithNetworkd). */
export interface RoundPlan {
  readonly steps: readonly Step[];
  readonly ledger: Ledger;
  /** systemd-networkd runs: a round that changed its files reloads it. */
  readonly networkdRunning: boolean;
}

export interface SettleResult {
  /** Every round's plan, in order. */
  readonly planned: readonly PlannedStep[];
  readonly applied: readonly PlannedStep[];
  /** Index into `planned`. */
  readonly failure: ApplyFailure | null;
  readonly unsettled: Unsettled | null;
  /** The ledger after the last applied round. */
  readonly ledger: Ledger;
  /** The last observation of the host (the one before the failing round, on a failure). */
  readonly observed: ObservedHost;
  /** A networkctl reload that failed. */
  readonly warnings: readonly Warning[];
}

/** What state.json records for this run (the whole desired state, even when `target` is a part of it). */
type Owner = Pick<HostState, 'application' | 'units' | 'desired'>;

export async function settle(
  o: SettleOptions,
  deps: EngineDeps,
  owner: Owner,
  replan: (observed: ObservedHost, ledger: Ledger) => Promise<RoundPlan>,
  ledgerBefore: Ledger,
  first: { readonly observed: ObservedHost; readonly plan: RoundPlan; readonly steps: readonly PlannedStep[] },
): Promise<SettleResult> {
  const rounds = o.rounds ?? APPLY_ROUNDS;
  const pause = o.settleMs ?? SETTLE_MS;
  const all: PlannedStep[] = [...first.steps];
  const applied: PlannedStep[] = [];
  let ledger = ledgerBefore;
  let p = first.plan;
  let observed = first.observed;
  const warnings: Warning[] = [];
  for (let round = 1; ; round++) {
    const offset = all.length - p.steps.length;
    // Write-ahead: remember everything either ledger owns before touching the host.
    const ahead = unionLedger(ledger, p.ledger);
    await writeState(o.root, { ...owner, ledger: ahead, applying: true });
    const r = await applySteps(p.steps, { ...o, renderer: deps.renderer });
    applied.push(...r.applied);
    if (!r.ok) {
      await writeState(o.root, { ...owner, ledger: ahead, applying: false });
      const failure = { ...r.failure, index: r.failure.index + offset };
      return { planned: all, applied, failure, unsettled: null, ledger: ahead, observed, warnings };
    }
    // Only when files changed, so a converged host starts no process for networkd.
    const reload = await reloadNetworkd(r.applied, p.networkdRunning, o);
    if (reload) warnings.push(reload);
    ledger = p.ledger;
    await writeState(o.root, { ...owner, ledger, applying: false });
    if (rounds === 0) return { planned: all, applied, failure: null, unsettled: null, ledger, observed, warnings };
    if (pause > 0) await sleep(pause);
    observed = await observeHost(o);
    p = await replan(observed, ledger);
    if (p.steps.length === 0)
      return { planned: all, applied, failure: null, unsettled: null, ledger, observed, warnings };
    const next = planned(p.steps, deps.renderer);
    if (round >= rounds) {
      return { planned: all, applied, failure: null, unsettled: { rounds, pending: next }, ledger, observed, warnings };
    }
    all.push(...next);
  }
}
