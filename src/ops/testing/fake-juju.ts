/**
 * An in-process fake of Juju's hook tools: a RawRun that answers the exact
 * argv the hook commands use, from a State, and records what the charm did.
 * It rejects any other argv (exit 2), so argv regressions fail tests.
 * No processes are started.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { CharmSpec } from '../charmspec.js';
import type { Network } from '../model.js';
import { SpawnError, type RawResult, type RawRun } from '../runner.js';
import type { Status } from '../status.js';
import { DEFAULT_NETWORK, UNKNOWN_STATUS, relationIdOf, type State } from './state.js';

export interface JujuLogLine {
  readonly level: string;
  readonly message: string;
}

/** Nested results, as `juju run` shows them. */
export interface NestedResults {
  [key: string]: string | NestedResults;
}

export interface Trace {
  /** Every argv, in order. */
  readonly calls: string[][];
  readonly jujuLog: JujuLogLine[];
  /** Every status-set, in order. */
  readonly statusHistory: Status[];
  readonly workloadVersionHistory: string[];
  actionResults: NestedResults;
  readonly actionLogs: string[];
  /** The action-fail message, if the action failed. */
  actionFailure: string | undefined;
}

export interface FakeJujuOptions {
  readonly spec: CharmSpec;
  readonly unitName: string;
  readonly state: State;
  /** Set when the dispatch is an action. */
  readonly action?: { readonly name: string; readonly params: Readonly<Record<string, unknown>> };
}

const ok = (stdout = ''): RawResult => ({ exitCode: 0, stdout, stderr: '' });
const err = (code: number, stderr: string): RawResult => ({ exitCode: code, stdout: '', stderr: `ERROR ${stderr}\n` });
const json = (v: unknown): RawResult => ok(`${JSON.stringify(v)}\n`);

function renderNetwork(n: Network): unknown {
  return {
    'bind-addresses': n.interfaces.map((i) => ({
      'mac-address': i.mac ?? '',
      'interface-name': i.name,
      addresses: i.addresses.map((a) => ({ hostname: a.hostname, value: a.address, cidr: a.cidr })),
    })),
    'egress-subnets': n.egressSubnets,
    'ingress-addresses': n.ingressAddresses,
  };
}

function setNested(target: NestedResults, dotted: string, value: string): void {
  const parts = dotted.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next === 'object') cur = next;
    else {
      const fresh: NestedResults = {};
      cur[p] = fresh;
      cur = fresh;
    }
  }
  cur[parts[parts.length - 1] ?? ''] = value;
}

const ACTION_KEY_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const RESERVED = new Set(['stdout', 'stderr', 'stdout-encoding', 'stderr-encoding']);
const LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR']);

export class FakeJuju {
  state: State;
  readonly trace: Trace = {
    calls: [],
    jujuLog: [],
    statusHistory: [],
    workloadVersionHistory: [],
    actionResults: {},
    actionLogs: [],
    actionFailure: undefined,
  };

  constructor(private readonly opts: FakeJujuOptions) {
    this.state = opts.state;
  }

  readonly run: RawRun = (argv, stdin) => {
    this.trace.calls.push([...argv]);
    const tool = argv[0] ?? '';
    const fault = this.state.faults?.[tool];
    if (fault?.kind === 'missing') {
      return Promise.reject(new SpawnError(`spawn ${tool} ENOENT`, 'ENOENT'));
    }
    if (fault?.kind === 'exit')
      return Promise.resolve({ exitCode: fault.code, stdout: '', stderr: fault.stderr ?? '' });
    if (fault?.kind === 'stdout') return Promise.resolve(ok(fault.stdout));
    return Promise.resolve(this.answer(tool, argv.slice(1), stdin));
  };

  private usage(tool: string, args: readonly string[]): RawResult {
    return err(2, `${tool}: unexpected arguments ${JSON.stringify(args)}`);
  }

  private same(args: readonly string[], expected: readonly string[]): boolean {
    return args.length === expected.length && args.every((a, i) => a === expected[i]);
  }

  private relation(id: string) {
    return (this.state.relations ?? []).find((r) => relationIdOf(r) === id);
  }

  private knownBinding(name: string): boolean {
    return Object.hasOwn(this.opts.spec.endpoints, name) || this.opts.spec.extraBindings.includes(name);
  }

  private answer(tool: string, args: readonly string[], stdin: string | undefined): RawResult {
    const s = this.state;
    switch (tool) {
      case 'config-get':
        if (!this.same(args, ['--format=json'])) return this.usage(tool, args);
        return json({ ...this.opts.spec.configDefaults, ...(s.config ?? {}) });
      case 'is-leader':
        if (!this.same(args, ['--format=json'])) return this.usage(tool, args);
        return json(s.leader ?? false);
      case 'juju-log': {
        const [flag, level, dashdash, message, ...rest] = args;
        if (
          flag !== '--log-level' ||
          dashdash !== '--' ||
          message === undefined ||
          rest.length > 0 ||
          !LEVELS.has(level ?? '')
        ) {
          return this.usage(tool, args);
        }
        this.trace.jujuLog.push({ level: level ?? '', message });
        return ok();
      }
      case 'status-get':
        if (!this.same(args, ['--include-data', '--format=json'])) return this.usage(tool, args);
        {
          const st = s.unitStatus ?? UNKNOWN_STATUS;
          return json({ message: st.message, status: st.name, 'status-data': {} });
        }
      case 'status-set': {
        const [app, status, dashdash, message, ...rest] = args;
        if (app !== '--application=false' || dashdash !== '--' || message === undefined || rest.length > 0)
          return this.usage(tool, args);
        const name = (['active', 'blocked', 'maintenance', 'waiting'] as const).find((n) => n === status);
        if (name === undefined) return err(1, `invalid status "${status}"`);
        const st = { name, message };
        this.trace.statusHistory.push(st);
        this.state = { ...s, unitStatus: st };
        return ok();
      }
      case 'application-version-set': {
        const [dashdash, version, ...rest] = args;
        if (dashdash !== '--' || version === undefined || rest.length > 0) return this.usage(tool, args);
        this.trace.workloadVersionHistory.push(version);
        this.state = { ...s, workloadVersion: version };
        return ok();
      }
      case 'network-get': {
        let rest = args;
        if (rest[0] !== '--format=json') return this.usage(tool, args);
        rest = rest.slice(1);
        if (rest[0] === '-r') {
          const rid = rest[1] ?? '';
          if (!this.relation(rid)) return err(2, `invalid value "${rid}" for option -r: relation not found`);
          rest = rest.slice(2);
        }
        const [binding, ...extra] = rest;
        if (binding === undefined || extra.length > 0) return this.usage(tool, args);
        const net = s.networks?.[binding];
        if (net === undefined && !this.knownBinding(binding))
          return err(1, `no network config found for binding "${binding}"`);
        return json(renderNetwork(net ?? DEFAULT_NETWORK));
      }
      case 'relation-ids': {
        const [endpoint, fmt, ...rest] = args;
        if (endpoint === undefined || fmt !== '--format=json' || rest.length > 0) return this.usage(tool, args);
        if (!Object.hasOwn(this.opts.spec.endpoints, endpoint)) return err(1, `no endpoint named "${endpoint}"`);
        return json((s.relations ?? []).filter((r) => r.endpoint === endpoint).map(relationIdOf));
      }
      case 'relation-list': {
        const [flag, rid, fmt, ...rest] = args;
        if (flag !== '-r' || rid === undefined || fmt !== '--format=json' || rest.length > 0)
          return this.usage(tool, args);
        const rel = this.relation(rid);
        if (!rel) return err(2, `invalid value "${rid}" for option -r: relation not found`);
        return json(Object.keys(rel.remoteUnitsData));
      }
      case 'relation-get': {
        const [fmt, flag, rid, dash, unit, ...rest] = args;
        if (
          fmt !== '--format=json' ||
          flag !== '-r' ||
          rid === undefined ||
          dash !== '-' ||
          unit === undefined ||
          rest.length > 0
        ) {
          return this.usage(tool, args);
        }
        const rel = this.relation(rid);
        if (!rel) return err(2, `invalid value "${rid}" for option -r: relation not found`);
        if (unit === this.opts.unitName) return json(rel.localUnitData ?? {});
        const data = rel.remoteUnitsData[unit];
        if (data === undefined)
          return err(1, `cannot read settings for unit "${unit}" in relation "${rid}": settings not found`);
        return json(data);
      }
      case 'state-get':
        if (!this.same(args, ['--format=json'])) return this.usage(tool, args);
        return json(s.stored ?? {});
      case 'state-set': {
        if (!this.same(args, ['--file', '-'])) return this.usage(tool, args);
        const parsed = z.record(z.string(), z.string()).safeParse(parseYaml(stdin ?? ''));
        if (!parsed.success) return err(1, 'state-set: expected a map of strings on stdin');
        this.state = { ...s, stored: { ...(s.stored ?? {}), ...parsed.data } };
        return ok();
      }
      case 'action-get':
      case 'action-set':
      case 'action-log':
      case 'action-fail':
        return this.actionTool(tool, args);
      default:
        return err(127, `${tool}: not a hook tool the fake knows`);
    }
  }

  private actionTool(tool: string, args: readonly string[]): RawResult {
    const action = this.opts.action;
    if (action === undefined) return err(1, `${tool} can only be used in an action`);
    switch (tool) {
      case 'action-get':
        if (!this.same(args, ['--format=json'])) return this.usage(tool, args);
        return json(action.params);
      case 'action-set': {
        if (args.length === 0) return this.usage(tool, args);
        for (const pair of args) {
          const eq = pair.indexOf('=');
          const key = eq > 0 ? pair.slice(0, eq) : '';
          if (!ACTION_KEY_RE.test(key))
            return err(
              2,
              `key "${key}" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`,
            );
          if (RESERVED.has(key.split('.')[0] ?? '')) return err(2, `cannot set reserved action key "${key}"`);
        }
        for (const pair of args) {
          const eq = pair.indexOf('=');
          setNested(this.trace.actionResults, pair.slice(0, eq), pair.slice(eq + 1));
        }
        return ok();
      }
      case 'action-log': {
        const [dashdash, message, ...rest] = args;
        if (dashdash !== '--' || message === undefined || rest.length > 0) return this.usage(tool, args);
        this.trace.actionLogs.push(message);
        return ok();
      }
      default: {
        const [dashdash, message, ...rest] = args;
        if (dashdash !== '--' || message === undefined || rest.length > 0) return this.usage(tool, args);
        this.trace.actionFailure = message;
        return ok();
      }
    }
  }
}
