/**
 * The in-process harness (ops' Scenario): `new Context(Charm, {meta, config,
 * actions}).run(event, state) → state`. The charm runs through the real
 * dispatch, backend and hook commands; only the hook tools are faked
 * (FakeJuju), so no process is started.
 */
import type { MemoOptions } from '../main.js';
import type { CharmClass } from '../charm-base.js';
import { charmSpecFrom, type CharmSpec } from '../charmspec.js';
import { dispatch } from '../main.js';
import type { Status } from '../status.js';
import { inconsistencies, InconsistentScenarioError } from './consistency.js';
import { FakeJuju, type JujuLogLine, type NestedResults } from './fake-juju.js';
import { relationIdOf, type RelationState, type State } from './state.js';

export interface ContextOptions {
  /** metadata.yaml, parsed. */
  readonly meta: unknown;
  /** config.yaml, parsed ({options: …}). */
  readonly config?: unknown;
  /** actions.yaml, parsed. */
  readonly actions?: unknown;
  /** Default `<meta name>/0`. */
  readonly unitName?: string;
  /** Extra or overriding JUJU_* variables for every run. */
  readonly env?: Readonly<Record<string, string>>;
  /** The hook memo, as main() gets it (src/ops/memo.ts); absent: off. */
  readonly memo?: MemoOptions;
}

export type TestEvent =
  | { readonly kind: 'hook'; readonly name: string }
  | {
      readonly kind: 'relation';
      readonly name: string;
      readonly relation: RelationState;
      readonly remoteUnit?: string;
      readonly departingUnit?: string;
    }
  | { readonly kind: 'action'; readonly name: string; readonly params: Readonly<Record<string, unknown>> }
  /** Dispatch any path, e.g. an unknown event. */
  | { readonly kind: 'raw'; readonly dispatchPath: string };

type RelationKind = 'created' | 'joined' | 'changed' | 'departed' | 'broken';

/** Event constructors (`ctx.on.install()`, `ctx.on.action('x', {…})`, …). */
export const on = {
  hook: (name: string): TestEvent => ({ kind: 'hook', name }),
  install: (): TestEvent => ({ kind: 'hook', name: 'install' }),
  start: (): TestEvent => ({ kind: 'hook', name: 'start' }),
  stop: (): TestEvent => ({ kind: 'hook', name: 'stop' }),
  remove: (): TestEvent => ({ kind: 'hook', name: 'remove' }),
  configChanged: (): TestEvent => ({ kind: 'hook', name: 'config-changed' }),
  updateStatus: (): TestEvent => ({ kind: 'hook', name: 'update-status' }),
  upgradeCharm: (): TestEvent => ({ kind: 'hook', name: 'upgrade-charm' }),
  leaderElected: (): TestEvent => ({ kind: 'hook', name: 'leader-elected' }),
  relation: (
    kind: RelationKind,
    relation: RelationState,
    opts: { remoteUnit?: string; departingUnit?: string } = {},
  ): TestEvent => ({
    kind: 'relation',
    name: `${relation.endpoint}-relation-${kind}`,
    relation,
    ...opts,
  }),
  action: (name: string, params: Readonly<Record<string, unknown>> = {}): TestEvent => ({
    kind: 'action',
    name,
    params,
  }),
  dispatchPath: (dispatchPath: string): TestEvent => ({ kind: 'raw', dispatchPath }),
} as const;

function actionDefaults(actionsYaml: unknown, name: string): Record<string, unknown> {
  if (typeof actionsYaml !== 'object' || actionsYaml === null) return {};
  const action: unknown = Object.entries(actionsYaml).find(([k]) => k === name)?.[1];
  if (typeof action !== 'object' || action === null || !('params' in action)) return {};
  const params = action.params;
  if (typeof params !== 'object' || params === null) return {};
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(params)) {
    const v: unknown = spec;
    if (typeof v === 'object' && v !== null && 'default' in v) out[k] = v.default;
  }
  return out;
}

export class Context {
  readonly spec: CharmSpec;
  readonly unitName: string;
  readonly on = on;

  /** Of the last run: */
  exitCode = 0;
  jujuLog: JujuLogLine[] = [];
  statusHistory: Status[] = [];
  workloadVersionHistory: string[] = [];
  actionResults: NestedResults = {};
  actionLogs: string[] = [];
  actionFailure: string | undefined;
  /** Every hook-tool argv the charm ran. */
  calls: string[][] = [];
  /** Lines the dispatch wrote to stderr (stack traces, fallbacks). */
  stderr: string[] = [];

  constructor(
    private readonly charm: CharmClass,
    private readonly opts: ContextOptions,
  ) {
    this.spec = charmSpecFrom(opts.meta, opts.actions, opts.config);
    this.unitName = opts.unitName ?? `${this.spec.name}/0`;
  }

  private env(event: TestEvent): Record<string, string> {
    const base: Record<string, string> = {
      JUJU_UNIT_NAME: this.unitName,
      JUJU_MODEL_NAME: 'test-model',
      JUJU_MODEL_UUID: '00000000-0000-4000-8000-000000000000',
      JUJU_CHARM_DIR: '/var/lib/juju/agents/unit-test/charm',
      JUJU_VERSION: '3.6.0',
      JUJU_API_ADDRESSES: '10.0.0.1:17070',
      JUJU_MACHINE_ID: '0',
    };
    switch (event.kind) {
      case 'hook':
        base['JUJU_DISPATCH_PATH'] = `hooks/${event.name}`;
        break;
      case 'relation':
        base['JUJU_DISPATCH_PATH'] = `hooks/${event.name}`;
        base['JUJU_RELATION'] = event.relation.endpoint;
        base['JUJU_RELATION_ID'] = relationIdOf(event.relation);
        base['JUJU_REMOTE_APP'] = event.relation.remoteApp;
        if (event.remoteUnit !== undefined) base['JUJU_REMOTE_UNIT'] = event.remoteUnit;
        if (event.departingUnit !== undefined) base['JUJU_DEPARTING_UNIT'] = event.departingUnit;
        break;
      case 'action':
        base['JUJU_DISPATCH_PATH'] = `actions/${event.name}`;
        base['JUJU_ACTION_NAME'] = event.name;
        base['JUJU_ACTION_UUID'] = '1';
        break;
      case 'raw':
        base['JUJU_DISPATCH_PATH'] = event.dispatchPath;
        break;
    }
    return { ...base, ...(this.opts.env ?? {}) };
  }

  /**
   * Dispatch `event` against `state`; returns the state the hook left. A state or event the
   * charm's metadata could not produce (an undeclared config key, endpoint, binding or action)
   * is refused with InconsistentScenarioError before anything runs.
   */
  async run(event: TestEvent, state: State = {}): Promise<State> {
    const wrong = inconsistencies(this.spec, event, state);
    if (wrong.length > 0) throw new InconsistentScenarioError(`inconsistent scenario: ${wrong.join('; ')}`);
    const fake = new FakeJuju({
      spec: this.spec,
      unitName: this.unitName,
      state,
      ...(event.kind === 'action'
        ? {
            action: { name: event.name, params: { ...actionDefaults(this.opts.actions, event.name), ...event.params } },
          }
        : event.kind === 'raw' && event.dispatchPath.startsWith('actions/')
          ? { action: { name: event.dispatchPath.slice('actions/'.length), params: {} } }
          : {}),
    });
    const stderr: string[] = [];
    this.exitCode = await dispatch(this.charm, {
      env: this.env(event),
      run: fake.run,
      spec: this.spec,
      stderr: (line) => stderr.push(line),
      ...(this.opts.memo !== undefined ? { memo: this.opts.memo } : {}),
    });
    const t = fake.trace;
    this.jujuLog = t.jujuLog;
    this.statusHistory = t.statusHistory;
    this.workloadVersionHistory = t.workloadVersionHistory;
    this.actionResults = t.actionResults;
    this.actionLogs = t.actionLogs;
    this.actionFailure = t.actionFailure;
    this.calls = t.calls;
    this.stderr = stderr;
    return fake.state;
  }
}
