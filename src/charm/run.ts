/**
 * What each hook and action does, on plain data: the facts the charm gathered
 * from Juju (config, network-get per binding, controller addresses, unit
 * name) and the host the engine acts on. Returns an Outcome (for the single
 * collect-status step) or action results; never sees an event object.
 */
import {
  checkGateways,
  converge,
  readNetplan,
  show,
  teardown,
  type ConvergeReport,
  type ProbeResult,
  type ShowReport,
  type TeardownReport,
  unsettledMessage,
} from '../vrf/engine.js';
import type { EngineInputs, Problem } from '../vrf/types.js';
import { rm, rmdir } from 'node:fs/promises';
import { PATHS, under } from '../vrf/persist.js';
import type { CharmHost } from './host.js';
import { memoDir } from './memo.js';
import {
  applyOverrides,
  bindingsFromNetworks,
  bindingsInUse,
  controllersFrom,
  parseCharmConfig,
  type CharmConfig,
  type NetworkData,
} from './inputs.js';
import { problemLine, type Outcome } from './status.js';
import { CharmError } from './errors.js';

/** Everything the charm read from Juju for this dispatch. */
export interface JujuFacts {
  readonly unit: string;
  /** config-get */
  readonly config: Readonly<Record<string, unknown>>;
  /** The options config.yaml declares. */
  readonly options: readonly string[];
  /** network-get per binding (juju-info and every extra-binding); an Error when network-get failed. */
  readonly networks: Readonly<Record<string, NetworkData | Error>>;
  /** The extra-bindings of metadata.yaml. */
  readonly extraBindings: readonly string[];
  /** JUJU_API_ADDRESSES hosts (ports stripped). */
  readonly apiHosts: readonly string[];
}

/** What the run tells the charm along the way (juju-log, an interim maintenance status). */
export interface Reporter {
  log(level: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR', message: string): Promise<void>;
  maintenance(message: string): Promise<void>;
}

export type Gathered =
  | { readonly kind: 'ok'; readonly inputs: EngineInputs; readonly config: CharmConfig }
  | { readonly kind: 'blocked'; readonly problems: readonly Problem[] }
  | { readonly kind: 'waiting'; readonly message: string };

/** Facts (with optional config overrides already merged) → the engine's inputs, or why not. */
export async function gather(
  facts: JujuFacts,
  host: CharmHost,
  config: Readonly<Record<string, unknown>>,
  report: Reporter,
): Promise<Gathered> {
  const cfg = parseCharmConfig(config);
  if (!cfg.ok) return { kind: 'blocked', problems: cfg.problems };
  for (const w of cfg.warnings) await report.log('WARNING', problemLine(w));

  const networks: Record<string, NetworkData> = {};
  const failed: string[] = [];
  for (const [name, n] of Object.entries(facts.networks)) {
    if (n instanceof Error) {
      failed.push(name);
      await report.log('WARNING', `network-get ${name} failed: ${n.message}`);
    } else networks[name] = n;
  }
  const b = bindingsFromNetworks(networks);
  for (const d of b.dropped)
    await report.log('WARNING', `ignoring an address network-get reports without a usable subnet: ${d}`);
  const inUse = bindingsInUse(cfg.engine, facts.extraBindings);
  const explicit = cfg.engine.vrfs !== null;
  // The default binding always matters; in explicit mode so does every binding a VRF names.
  const missing = [...failed, ...b.withoutAddress].filter((n) => inUse.includes(n) && (explicit || n === inUse[0]));
  if (missing.length > 0) {
    return {
      kind: 'waiting',
      message: `waiting for network-get to report an address for ${[...new Set(missing)].join(', ')}`,
    };
  }
  // Auto mode: a space role without an address (yet) is simply not a VRF candidate.
  const bindings = Object.fromEntries(
    Object.entries(b.bindings).filter(([n]) => !b.withoutAddress.includes(n) || explicit),
  );
  for (const n of b.withoutAddress.filter((n) => !explicit && n !== inUse[0])) {
    await report.log('INFO', `binding ${n} has no address on this machine; it gets no VRF`);
  }
  const c = controllersFrom(facts.apiHosts);
  for (const s of c.skipped)
    await report.log('WARNING', `controller address ${s} is not an IP address; its path cannot be protected`);
  const netplan = await readNetplan(host.engine.root);
  return { kind: 'ok', config: cfg, inputs: { config: cfg.engine, bindings, controllers: c.controllers, netplan } };
}

async function logReport(r: ConvergeReport, report: Reporter): Promise<void> {
  for (const p of r.problems) await report.log('ERROR', problemLine(p));
  for (const w of r.warnings) await report.log('WARNING', problemLine(w));
  // Each step with its reason: the log is where an operator reads why, e.g., main's default route
  // now goes through a VRF's device.
  if (r.applied.length > 0) {
    const lines = r.applied.map((p) => (p.step.why ? `${p.command}  # ${p.step.why}` : p.command));
    await report.log('INFO', `applied ${r.applied.length} step(s):\n${lines.join('\n')}`);
  }
  if (r.failure)
    await report.log('ERROR', `step ${r.failure.index + 1} failed: ${r.failure.command}: ${r.failure.error}`);
  const s = r.services;
  if (s.applied.length > 0) await report.log('INFO', `services: ran\n${s.applied.map((p) => p.command).join('\n')}`);
  if (s.failure)
    await report.log(
      'ERROR',
      `services: step ${s.failure.index + 1} of ${s.planned.length} failed: ${s.failure.command}: ${s.failure.error}`,
    );
  if (r.unsettled)
    await report.log(
      'WARNING',
      `${unsettledMessage(r.unsettled, r.unsettled.pending.length)}\n${r.unsettled.pending.map((p) => p.command).join('\n')}`,
    );
}

export type ConvergeMode = 'apply' | 'update-status';

/**
 * install, config-changed, upgrade-charm, start, juju-info-relation-*, and
 * update-status (which heals only with heal-drift; dry-run only plans).
 * Plans first (no lock), shows Maintenance while changes are applied.
 */
export async function convergeHost(
  facts: JujuFacts,
  host: CharmHost,
  mode: ConvergeMode,
  report: Reporter,
  force = false,
): Promise<{ outcome: Outcome; report: ConvergeReport | null }> {
  const g = await gather(facts, host, facts.config, report);
  if (g.kind === 'blocked') {
    for (const p of g.problems) await report.log('ERROR', problemLine(p));
    return { outcome: { kind: 'blocked', problems: g.problems }, report: null };
  }
  if (g.kind === 'waiting') return { outcome: g, report: null };
  const base = { ...host.engine, inputs: g.inputs, unit: facts.unit };
  const planOnly = !force && (g.config.dryRun || (mode === 'update-status' && !g.config.healDrift));
  if (!planOnly && host.bootDisabled !== null)
    await report.log('WARNING', `boot persistence disabled: ${host.bootDisabled}`);
  // One pass: observe and plan once; Maintenance is shown only when there is something to apply.
  const r = await converge({
    ...base,
    dryRun: planOnly,
    ...(planOnly ? {} : { boot: host.boot }),
    beforeApply: async (steps) => {
      const n = steps.length;
      await report.maintenance(
        mode === 'update-status'
          ? `healing drift: ${n} change${n === 1 ? '' : 's'}`
          : `applying ${n} change${n === 1 ? '' : 's'}`,
      );
    },
  });
  await logReport(r, report);
  if (planOnly && r.problems.length === 0) {
    if (g.config.dryRun && !force) return { outcome: { kind: 'dry-run', report: r }, report: r };
    return {
      outcome: r.planned.length > 0 ? { kind: 'drift', report: r } : { kind: 'converged', report: r },
      report: r,
    };
  }
  if (r.problems.length > 0) return { outcome: { kind: 'blocked', problems: r.problems }, report: r };
  if (r.failure) return { outcome: { kind: 'failed', report: r }, report: r };
  if (r.unsettled) return { outcome: { kind: 'unsettled', unsettled: r.unsettled }, report: r };
  return { outcome: { kind: 'converged', report: r }, report: r };
}

export class TeardownError extends CharmError {
  override name = 'TeardownError';
}

/** stop and remove: the engine tears down only when this is the machine's last unit. */
export async function teardownHost(unit: string, host: CharmHost, report: Reporter): Promise<Outcome> {
  const r: TeardownReport = await teardown({ ...host.engine, unit });
  if (r.problems.length > 0) {
    const line = r.problems.map(problemLine).join('; ');
    await report.log('ERROR', `cannot tear down: ${line}`);
    throw new TeardownError(`cannot tear down: ${line}`);
  }
  if (r.failure) {
    const line = `teardown step ${r.failure.index + 1} of ${r.planned.length} failed: ${r.failure.command}: ${r.failure.error}`;
    await report.log('ERROR', `${line}; the next try resumes from there`);
    throw new TeardownError(line);
  }
  for (const w of r.warnings ?? []) await report.log('WARNING', problemLine(w));
  if (r.tornDown) {
    // The hook memos (src/charm/memo.ts) live in the engine's state directory: gone with the last unit.
    await rm(memoDir(host.engine.root), { recursive: true, force: true });
    await rmdir(under(host.engine.root, PATHS.stateDir)).catch(() => undefined); // only when empty
    if (r.applied.length > 0)
      await report.log('INFO', `tore down ${r.applied.length} step(s):\n${r.applied.map((p) => p.command).join('\n')}`);
    else await report.log('INFO', 'nothing left to tear down');
  } else {
    await report.log('INFO', `the VRFs stay for ${r.remainingUnits.join(', ')}`);
  }
  return { kind: 'torn-down', report: r };
}

/** show-vrfs: compare with what the current config and bindings want (the last applied state when they are unusable). */
export async function showHost(
  facts: JujuFacts,
  host: CharmHost,
  routes: boolean,
  report: Reporter,
): Promise<ShowReport> {
  const g = await gather(facts, host, facts.config, report);
  const r = await show({ ...host.engine, routes, netfilter: true, ...(g.kind === 'ok' ? { inputs: g.inputs } : {}) });
  if (g.kind === 'blocked')
    return {
      ...r,
      problems: [...g.problems, ...r.problems],
      summary: `${r.summary}\n${g.problems.map((p) => `problem: ${problemLine(p)}`).join('\n')}`,
    };
  if (g.kind === 'waiting') return { ...r, summary: `${r.summary}\n${g.message} (showing the last applied state)` };
  return r;
}

export type PlanOutcome =
  { readonly ok: true; readonly report: ConvergeReport } | { readonly ok: false; readonly message: string };

/** plan: what the next config-changed would do, optionally with config overrides. Nothing is applied. */
export async function planHost(
  facts: JujuFacts,
  host: CharmHost,
  overrides: string | Readonly<Record<string, unknown>> | undefined,
  report: Reporter,
): Promise<PlanOutcome> {
  let config: Readonly<Record<string, unknown>> = facts.config;
  if (overrides !== undefined && (typeof overrides !== 'string' || overrides.trim() !== '')) {
    const o = applyOverrides(facts.config, overrides, facts.options);
    if (!o.ok) return { ok: false, message: problemLine(o.problem) };
    config = o.config;
  }
  const g = await gather(facts, host, config, report);
  const prefix = overrides ? 'config: ' : '';
  if (g.kind === 'blocked') return { ok: false, message: `${prefix}${g.problems.map(problemLine).join('; ')}` };
  if (g.kind === 'waiting') return { ok: false, message: g.message };
  const r = await converge({ ...host.engine, inputs: g.inputs, unit: facts.unit, dryRun: true });
  if (r.problems.length > 0) return { ok: false, message: `${prefix}${r.problems.map(problemLine).join('; ')}` };
  return { ok: true, report: r };
}

/** check-gateways: ping each VRF's gateways (and `target` from `vrf`). */
export async function probeHost(
  host: CharmHost,
  vrf: string | undefined,
  target: string | undefined,
): Promise<ProbeResult[]> {
  return checkGateways({
    ...host.engine,
    ...(vrf !== undefined ? { vrf } : {}),
    ...(target !== undefined ? { target } : {}),
  });
}
