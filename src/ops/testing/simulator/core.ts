/**
 * The hook-tool simulator's logic, as a pure function: `answer(state, tool, argv, io)` →
 * `{exit, stdout, stderr, effect}`. The Node tool (hook-tool.ts) runs it once per call; the
 * harness runs it to pre-render fast mode's answer tables and to replay fast mode's raw
 * journal, so every mode answers with exactly this logic.
 *
 * No imports but zod/mini (through state.ts): the tool is bundled from this and must start
 * cheaply.
 */
import { parseFlags, UsageError, type FlagSpec, type ParsedArgs } from './flags.js';
import { foldJournal, type Effect, type HookToolName, type JournalEntry, type SimState } from './state.js';
import { OpsError } from '../../errors.js';
import * as z from 'zod/mini';

/** A run-time failure (exit 1 unless said otherwise). */
class ToolError extends OpsError {
  override readonly name = 'ToolError';
  constructor(
    message: string,
    readonly code = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Outcome {
  readonly stdout?: string;
  readonly effect?: Effect;
}

/** What an answer may depend on besides the state file. */
export interface ToolIO {
  /** The tool's environment (JUJU_RELATION, JUJU_RELATION_ID, JUJU_REMOTE_UNIT, JUJU_REMOTE_APP). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The calls recorded before this one (status-get and state-get fold them). */
  readonly prior?: () => readonly JournalEntry[];
  /** Read `--file` (`-` is stdin); throws when it cannot. */
  readonly readFile?: (file: string) => string;
}

interface Ctx {
  readonly state: SimState;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly prior: () => readonly JournalEntry[];
  readonly readFile: (file: string) => string;
}

type Handler = (args: readonly string[], ctx: Ctx) => Outcome;

const FORMAT: FlagSpec = { long: 'format' };
const RELATION: FlagSpec = { long: 'relation', short: 'r' };
const FORMATS = ['json', 'yaml', 'smart'];
/** The parts of a binding's network-get answer that network-get's key flags pick (the rest is left as it is). */
const NetworkGetKeysSchema = z.looseObject({
  'bind-addresses': z.optional(
    z.array(z.looseObject({ addresses: z.optional(z.array(z.looseObject({ value: z.optional(z.string()) }))) })),
  ),
  'ingress-addresses': z.optional(z.array(z.string())),
  'egress-subnets': z.optional(z.array(z.string())),
});

function format(p: ParsedArgs): string {
  const f = p.flags.get('format') ?? 'smart';
  if (!FORMATS.includes(f))
    throw new UsageError(`invalid value ${JSON.stringify(f)} for option --format: unknown format ${JSON.stringify(f)}`);
  return f;
}

/** Juju's formatters: json is JSON; yaml/smart print plain strings bare and JSON (valid YAML) otherwise. */
function render(value: unknown, fmt: string): string {
  if (fmt === 'json') return `${JSON.stringify(value)}\n`;
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return `${value}\n`;
  if (typeof value === 'boolean' && fmt === 'smart') return value ? 'True\n' : 'False\n';
  return `${JSON.stringify(value)}\n`;
}

function noExtra(args: readonly string[]): void {
  if (args.length > 0) throw new UsageError(`unrecognized args: [${args.map((a) => JSON.stringify(a)).join(' ')}]`);
}

function requireAction(ctx: Ctx): NonNullable<SimState['action']> {
  if (!ctx.state.action) throw new ToolError('not running an action');
  return ctx.state.action;
}

function relationById(ctx: Ctx, p: ParsedArgs, optionName: string) {
  const raw = p.flags.get('relation') ?? ctx.env['JUJU_RELATION_ID'];
  if (raw === undefined || raw === '') throw new UsageError('no relation id specified');
  const m = /^(?:([a-z0-9-]+):)?(\d+)$/.exec(raw);
  const id = m ? Number(m[2]) : NaN;
  for (const [endpoint, rels] of Object.entries(ctx.state.relations)) {
    if (m?.[1] !== undefined && m[1] !== endpoint) continue;
    const rel = rels.find((r) => r.id === id);
    if (rel) return { endpoint, rel };
  }
  throw new UsageError(`invalid value ${JSON.stringify(raw)} for option ${optionName}: relation not found`);
}

function getKey(map: Readonly<Record<string, unknown>>, key: string | undefined): unknown {
  if (key === undefined || key === '-') return map;
  return Object.hasOwn(map, key) ? map[key] : null;
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];
const STATUSES = ['maintenance', 'blocked', 'waiting', 'active'];
const ACTION_KEY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED_ACTION_KEYS = ['stdout', 'stderr', 'stdout-encoding', 'stderr-encoding'];

const HANDLERS: Record<HookToolName, Handler> = {
  'config-get': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT, { long: 'all', short: 'a', bool: true }]);
    const fmt = format(p);
    const [key, ...rest] = p.positional;
    noExtra(rest);
    return { stdout: render(getKey(ctx.state.config, key), fmt) };
  },

  'network-get': (argv, ctx) => {
    const keyFlags = ['primary-address', 'bind-address', 'ingress-address', 'egress-subnets'];
    const p = parseFlags(argv, [FORMAT, RELATION, ...keyFlags.map((long) => ({ long, bool: true }))]);
    const fmt = format(p);
    const [binding, ...rest] = p.positional;
    if (binding === undefined) throw new UsageError('no arguments specified');
    noExtra(rest);
    if (p.flags.has('relation')) relationById(ctx, p, '-r');
    const info = ctx.state.networks[binding];
    if (info === undefined) throw new ToolError(`no network config found for binding ${JSON.stringify(binding)}`);
    const wanted = keyFlags.filter((k) => p.flags.get(k) === 'true');
    if (wanted.length === 0) return { stdout: render(info, fmt) };
    const parsed = NetworkGetKeysSchema.safeParse(info);
    if (!parsed.success)
      throw new ToolError(`network config of binding ${JSON.stringify(binding)}: ${z.prettifyError(parsed.error)}`);
    const obj = parsed.data;
    const pick = (k: string): unknown => {
      switch (k) {
        case 'primary-address':
        case 'bind-address':
          return obj['bind-addresses']?.[0]?.addresses?.[0]?.value ?? null;
        case 'ingress-address':
          return obj['ingress-addresses']?.[0] ?? null;
        default:
          return (obj['egress-subnets'] ?? []).join(',');
      }
    };
    if (wanted.length === 1) return { stdout: render(pick(wanted[0] ?? ''), fmt) };
    return { stdout: render(Object.fromEntries(wanted.map((k) => [k, pick(k)])), fmt) };
  },

  'status-set': (argv) => {
    const p = parseFlags(argv, [{ long: 'application', bool: true }]);
    const [status, message = '', ...rest] = p.positional;
    if (status === undefined) throw new UsageError('invalid args, require <status> [message] [data]');
    if (!STATUSES.includes(status))
      throw new UsageError(`invalid status ${JSON.stringify(status)}, expected one of [${STATUSES.join(' ')}]`);
    noExtra(rest);
    return { effect: { kind: 'status', status, message, application: p.flags.get('application') === 'true' } };
  },

  'status-get': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT, { long: 'include-data', bool: true }, { long: 'application', bool: true }]);
    const fmt = format(p);
    noExtra(p.positional);
    const record = foldJournal(ctx.state, ctx.prior());
    if (p.flags.get('application') === 'true') {
      if (!ctx.state.leader) throw new ToolError('finding application status: this unit is not the leader');
      const app = record.applicationStatusHistory.at(-1) ?? ctx.state.applicationStatus;
      return {
        stdout: render({ 'application-status': { message: app.message, status: app.status, 'status-data': {} } }, fmt),
      };
    }
    const last = record.statusHistory.at(-1);
    const cur = last ? { ...last, data: {} } : ctx.state.status;
    if (p.flags.get('include-data') === 'true') {
      return { stdout: render({ message: cur.message, status: cur.status, 'status-data': cur.data }, fmt) };
    }
    return { stdout: render(cur.status, fmt) };
  },

  'application-version-set': (argv) => {
    const p = parseFlags(argv, []);
    const [version, ...rest] = p.positional;
    if (version === undefined) throw new UsageError('no version specified');
    noExtra(rest);
    return { effect: { kind: 'workload-version', version } };
  },

  'juju-log': (argv) => {
    const p = parseFlags(argv, [{ long: 'log-level', short: 'l' }, { long: 'debug', bool: true }, FORMAT]);
    if (p.positional.length === 0) throw new UsageError('no message specified');
    let level = 'INFO';
    if (p.flags.get('debug') === 'true') level = 'DEBUG';
    else if (p.flags.has('log-level')) {
      const want = (p.flags.get('log-level') ?? '').toUpperCase();
      // Juju logs an invalid level at INFO (with a warning in the agent's log).
      level = LOG_LEVELS.includes(want) ? want : 'INFO';
    }
    return { effect: { kind: 'log', level, message: p.positional.join(' ') } };
  },

  'is-leader': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT]);
    const fmt = format(p);
    noExtra(p.positional);
    return { stdout: render(ctx.state.leader, fmt) };
  },

  'action-get': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT]);
    const fmt = format(p);
    const [key, ...rest] = p.positional;
    noExtra(rest);
    const action = requireAction(ctx);
    if (key === undefined) return { stdout: render(action.params, fmt) };
    let cur: unknown = action.params;
    for (const seg of key.split('.')) {
      cur =
        cur !== null && typeof cur === 'object' && Object.hasOwn(cur, seg)
          ? (cur as Record<string, unknown>)[seg]
          : null;
    }
    return { stdout: render(cur, fmt) };
  },

  'action-set': (argv, ctx) => {
    const p = parseFlags(argv, []);
    const results: Record<string, string> = {};
    for (const arg of p.positional) {
      const eq = arg.indexOf('=');
      if (eq === -1) throw new UsageError(`argument ${JSON.stringify(arg)} must be of the form key...=value`);
      const key = arg.slice(0, eq);
      for (const seg of key.split('.')) {
        if (!ACTION_KEY.test(seg)) {
          throw new UsageError(
            `key ${JSON.stringify(seg)} must start and end with lowercase alphanumeric,` +
              ` and contain only lowercase alphanumeric, hyphens and periods`,
          );
        }
        if (RESERVED_ACTION_KEYS.includes(seg))
          throw new UsageError(`cannot set reserved action key ${JSON.stringify(seg)}`);
      }
      results[key] = arg.slice(eq + 1);
    }
    requireAction(ctx);
    return { effect: { kind: 'action-set', results } };
  },

  'action-log': (argv, ctx) => {
    const p = parseFlags(argv, []);
    if (p.positional.length === 0) throw new UsageError('no message specified');
    requireAction(ctx);
    return { effect: { kind: 'action-log', message: p.positional.join(' ') } };
  },

  'action-fail': (argv, ctx) => {
    const p = parseFlags(argv, []);
    const [message = 'action failed without reason given', ...rest] = p.positional;
    noExtra(rest);
    requireAction(ctx);
    return { effect: { kind: 'action-fail', message } };
  },

  'relation-ids': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT]);
    const fmt = format(p);
    const [endpoint = ctx.env['JUJU_RELATION'], ...rest] = p.positional;
    if (endpoint === undefined || endpoint === '') throw new UsageError('no endpoint name specified');
    noExtra(rest);
    const ids = (ctx.state.relations[endpoint] ?? []).map((r) => `${endpoint}:${r.id}`);
    return { stdout: render(ids, fmt) };
  },

  'relation-list': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT, RELATION, { long: 'app', bool: true }]);
    const fmt = format(p);
    noExtra(p.positional);
    const { rel } = relationById(ctx, p, '-r');
    if (p.flags.get('app') === 'true') return { stdout: render(rel.app, fmt) };
    return { stdout: render(Object.keys(rel.units), fmt) };
  },

  'relation-get': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT, RELATION, { long: 'app', bool: true }]);
    const fmt = format(p);
    const { endpoint, rel } = relationById(ctx, p, '-r');
    const [
      key = '-',
      unit = ctx.env['JUJU_REMOTE_UNIT'] ?? (p.flags.get('app') === 'true' ? ctx.env['JUJU_REMOTE_APP'] : undefined),
      ...rest
    ] = p.positional;
    noExtra(rest);
    if (unit === undefined || unit === '') throw new UsageError('no unit id specified');
    let data: Record<string, string> | undefined;
    if (p.flags.get('app') === 'true') data = unit === rel.app ? rel.appData : undefined;
    else if (unit === ctx.state.unit) data = rel.localData;
    else data = rel.units[unit];
    if (data === undefined) {
      throw new ToolError(
        `cannot read settings for unit ${JSON.stringify(unit)} in relation ${JSON.stringify(`${endpoint}:${rel.id}`)}:` +
          ` unit ${JSON.stringify(unit)}: settings not found`,
      );
    }
    return { stdout: render(getKey(data, key), fmt) };
  },

  'state-get': (argv, ctx) => {
    const p = parseFlags(argv, [FORMAT, { long: 'strict', bool: true }]);
    const fmt = format(p);
    const [key, ...rest] = p.positional;
    noExtra(rest);
    const stored = foldJournal(ctx.state, ctx.prior()).stored;
    if (key !== undefined && p.flags.get('strict') === 'true' && !Object.hasOwn(stored, key)) {
      throw new ToolError(`${JSON.stringify(key)} not found`);
    }
    return { stdout: render(getKey(stored, key), fmt) };
  },

  'state-set': (argv, ctx) => {
    const p = parseFlags(argv, [{ long: 'file' }]);
    const values: Record<string, string> = {};
    const file = p.flags.get('file');
    if (file !== undefined) {
      const text = ctx.readFile(file);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        // Juju reads YAML; a flat map of strings in JSON is what charms send.
        throw new ToolError(`cannot parse ${file === '-' ? 'stdin' : file}: expected a map of strings`);
      }
      for (const [k, v] of Object.entries(parsed)) {
        if (typeof v !== 'string')
          throw new ToolError(
            `cannot parse ${file === '-' ? 'stdin' : file}: value of ${JSON.stringify(k)} is not a string`,
          );
        values[k] = v;
      }
    }
    for (const arg of p.positional) {
      const eq = arg.indexOf('=');
      if (eq <= 0) throw new UsageError(`expected "key=value", got ${JSON.stringify(arg)}`);
      values[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
    return { effect: { kind: 'state-set', values } };
  },

  'state-delete': (argv) => {
    const p = parseFlags(argv, []);
    const [key, ...rest] = p.positional;
    if (key === undefined) throw new UsageError('no key specified');
    noExtra(rest);
    return { effect: { kind: 'state-delete', keys: [key] } };
  },
};

/** An error's message, also for errors from another realm (`instanceof Error` is false there). */
function messageOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string')
    return err.message;
  return String(err);
}

/** One call's outcome, as the tool prints it and the journal records it. */
export interface Answer {
  readonly exit: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly effect?: Effect;
}

/**
 * How `tool` answers `argv` in `state`: a fault in the state forces the outcome; usage
 * errors exit 2, run-time errors 1, each with one `ERROR …` line on stderr.
 */
export function answer(state: SimState, tool: HookToolName, argv: readonly string[], io: ToolIO = {}): Answer {
  const fault = state.faults[tool];
  if (fault) return { exit: fault.exit, stdout: fault.stdout, stderr: fault.stderr };
  const ctx: Ctx = {
    state,
    env: io.env ?? {},
    prior: io.prior ?? (() => []),
    readFile:
      io.readFile ??
      ((file) => {
        throw new ToolError(`cannot read ${file === '-' ? 'stdin' : file}`);
      }),
  };
  try {
    const outcome = HANDLERS[tool](argv, ctx);
    return { exit: 0, stdout: outcome.stdout ?? '', stderr: '', ...(outcome.effect ? { effect: outcome.effect } : {}) };
  } catch (err) {
    const exit = err instanceof UsageError ? 2 : err instanceof ToolError ? err.code : 1;
    return { exit, stdout: '', stderr: `ERROR ${messageOf(err)}\n` };
  }
}

/** The journal line for a call. */
export function journalEntry(tool: HookToolName, argv: readonly string[], a: Answer): JournalEntry {
  return { tool, argv: [...argv], exit: a.exit, stderr: a.stderr, ...(a.effect ? { effect: a.effect } : {}) };
}
