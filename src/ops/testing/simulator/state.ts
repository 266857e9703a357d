/**
 * The hook-tool simulator's two files:
 * - the **state file** (`OPS_SIM_STATE`, JSON, written by the test): what Juju would know
 *   (config, network-get answers per binding, leadership, relations, the running action's
 *   params, the unit's current status, server-side state, injected faults);
 * - the **journal** (`OPS_SIM_JOURNAL`, JSON lines, appended by the tools): one line per
 *   hook-tool call with its exact argv, exit code and effect. Appends are single write()
 *   calls, so concurrent tool processes never lose each other's records.
 *
 * No imports but zod/mini: the tool is bundled from this and must start cheaply.
 */
import * as z from 'zod/mini';

export const HOOK_TOOLS = [
  'config-get',
  'network-get',
  'status-set',
  'status-get',
  'application-version-set',
  'juju-log',
  'is-leader',
  'action-get',
  'action-set',
  'action-log',
  'action-fail',
  'relation-ids',
  'relation-list',
  'relation-get',
  'state-get',
  'state-set',
  'state-delete',
] as const;
export type HookToolName = (typeof HOOK_TOOLS)[number];

export function isHookTool(name: string): name is HookToolName {
  return (HOOK_TOOLS as readonly string[]).includes(name);
}

const StringMap = z.record(z.string(), z.string());

export const RelationSchema = z.object({
  id: z.number().check(z.int(), z.nonnegative()),
  /** The remote application's name. */
  app: z.string(),
  /** Remote unit name → its relation data. */
  units: z._default(z.record(z.string(), StringMap), {}),
  /** The remote application's relation data. */
  appData: z._default(StringMap, {}),
  /** This unit's own relation data (relation-get for our own unit). */
  localData: z._default(StringMap, {}),
});

export const FaultSchema = z.object({
  exit: z.number().check(z.int()),
  stdout: z._default(z.string(), ''),
  stderr: z._default(z.string(), ''),
});

export const SimStateSchema = z.object({
  unit: z._default(z.string(), 'vrf-host/0'),
  /** config-get's answer: option → value (what Juju prints, defaults applied). */
  config: z._default(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), {}),
  /** Binding name → network-get's JSON answer for it, exactly as Juju prints it. */
  networks: z._default(z.record(z.string(), z.unknown()), {}),
  leader: z._default(z.boolean(), true),
  /** Endpoint name → its relations. */
  relations: z._default(z.record(z.string(), z.array(RelationSchema)), {}),
  /** The running action, or null in a hook. */
  action: z._default(
    z.nullable(z.object({ name: z.string(), params: z._default(z.record(z.string(), z.unknown()), {}) })),
    null,
  ),
  /** The unit status before the hook (status-get's answer until status-set is called). */
  status: z._default(
    z.object({
      status: z.string(),
      message: z._default(z.string(), ''),
      data: z._default(z.record(z.string(), z.unknown()), {}),
    }),
    { status: 'unknown', message: '', data: {} },
  ),
  applicationStatus: z._default(z.object({ status: z.string(), message: z._default(z.string(), '') }), {
    status: 'unknown',
    message: '',
  }),
  /** Server-side charm state (state-get) before the hook. */
  stored: z._default(StringMap, {}),
  /** Tool name → a forced outcome: the call is still journalled. */
  faults: z._default(z.record(z.string(), FaultSchema), {}),
});
export type SimState = z.infer<typeof SimStateSchema>;
export type SimStateInput = z.input<typeof SimStateSchema>;

export const EffectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('status'), status: z.string(), message: z.string(), application: z.boolean() }),
  z.object({ kind: z.literal('log'), level: z.string(), message: z.string() }),
  z.object({ kind: z.literal('workload-version'), version: z.string() }),
  z.object({ kind: z.literal('action-set'), results: StringMap }),
  z.object({ kind: z.literal('action-log'), message: z.string() }),
  z.object({ kind: z.literal('action-fail'), message: z.string() }),
  z.object({ kind: z.literal('state-set'), values: StringMap }),
  z.object({ kind: z.literal('state-delete'), keys: z.array(z.string()) }),
]);
export type Effect = z.infer<typeof EffectSchema>;

export const JournalEntrySchema = z.object({
  tool: z.string(),
  argv: z.array(z.string()),
  exit: z.number(),
  stderr: z._default(z.string(), ''),
  effect: z.optional(EffectSchema),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

export interface StatusRecord {
  readonly status: string;
  readonly message: string;
}

/** Everything the hook tools recorded, folded from the journal. */
export interface SimRecord {
  /** Every call, in order, with its exact argv (tool name excluded) and exit code. */
  readonly calls: readonly JournalEntry[];
  /** Unit status-set calls, in order. */
  readonly statusHistory: readonly StatusRecord[];
  /** status-set --application=true calls, in order. */
  readonly applicationStatusHistory: readonly StatusRecord[];
  /** The unit status now (the last status-set, else the state file's). */
  readonly status: StatusRecord;
  readonly logs: readonly { readonly level: string; readonly message: string }[];
  readonly workloadVersion: string | null;
  /** action-set results as flat dotted keys, later calls overriding earlier ones. */
  readonly actionResults: Readonly<Record<string, string>>;
  readonly actionLogs: readonly string[];
  /** action-fail's message, or null when the action did not fail. */
  readonly actionFailure: string | null;
  /** Server-side state after state-set/state-delete. */
  readonly stored: Readonly<Record<string, string>>;
}

export function parseJournal(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    out.push(JournalEntrySchema.parse(JSON.parse(line)));
  }
  return out;
}

export function foldJournal(state: SimState, entries: readonly JournalEntry[]): SimRecord {
  const statusHistory: StatusRecord[] = [];
  const applicationStatusHistory: StatusRecord[] = [];
  const logs: { level: string; message: string }[] = [];
  const actionResults: Record<string, string> = {};
  const actionLogs: string[] = [];
  const stored: Record<string, string> = { ...state.stored };
  let workloadVersion: string | null = null;
  let actionFailure: string | null = null;
  for (const { effect } of entries) {
    if (!effect) continue;
    switch (effect.kind) {
      case 'status':
        (effect.application ? applicationStatusHistory : statusHistory).push({
          status: effect.status,
          message: effect.message,
        });
        break;
      case 'log':
        logs.push({ level: effect.level, message: effect.message });
        break;
      case 'workload-version':
        workloadVersion = effect.version;
        break;
      case 'action-set':
        Object.assign(actionResults, effect.results);
        break;
      case 'action-log':
        actionLogs.push(effect.message);
        break;
      case 'action-fail':
        actionFailure = effect.message;
        break;
      case 'state-set':
        Object.assign(stored, effect.values);
        break;
      case 'state-delete':
        for (const k of effect.keys) delete stored[k];
        break;
    }
  }
  const last = statusHistory.at(-1);
  return {
    calls: entries,
    statusHistory,
    applicationStatusHistory,
    status: last ?? { status: state.status.status, message: state.status.message },
    logs,
    workloadVersion,
    actionResults,
    actionLogs,
    actionFailure,
    stored,
  };
}
