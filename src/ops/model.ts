/**
 * The model (ops' `Model`): config, bindings, status, leadership, relations
 * and stored state, each read through the backend and cached for the hook.
 */
import type { z } from 'zod';
import type { ModelBackend } from './backend.js';
import type { CharmSpec } from './charmspec.js';
import type { JujuContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { ConfigValue } from './hookcmds/config.js';
import type { NetworkGetOutput } from './hookcmds/network.js';
import { RELATION_ID_RE } from './hookcmds/relation.js';
import { assertSettable, type Status } from './status.js';

export interface NetworkAddress {
  readonly address: string;
  /** The subnet (`10.0.0.0/24`); '' when Juju did not say. */
  readonly cidr: string;
  readonly hostname: string;
}
export interface NetworkInterface {
  readonly name: string;
  /** Absent when Juju reports none. */
  readonly mac?: string;
  readonly addresses: readonly NetworkAddress[];
}
/** What network-get says of one binding. No gateway, no space name. */
export interface Network {
  readonly interfaces: readonly NetworkInterface[];
  readonly ingressAddresses: readonly string[];
  readonly egressSubnets: readonly string[];
}

export function networkFromOutput(out: NetworkGetOutput): Network {
  return {
    interfaces: out['bind-addresses'].map((b) => ({
      name: b['interface-name'],
      ...(b['mac-address'] !== '' ? { mac: b['mac-address'] } : {}),
      addresses: b.addresses.map((a) => ({ address: a.value, cidr: a.cidr, hostname: a.hostname })),
    })),
    ingressAddresses: out['ingress-addresses'],
    egressSubnets: out['egress-subnets'],
  };
}

export interface ConfigProblem {
  /** The option name (dotted path for nested values). */
  readonly field: string;
  readonly message: string;
}
export type ConfigResult<T> =
  | { readonly ok: true; readonly config: T }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly message: string };

export class Relation {
  readonly endpoint: string;
  readonly num: number;
  private units?: Promise<string[]>;
  private readonly data = new Map<string, Promise<Record<string, string>>>();

  constructor(
    private readonly backend: ModelBackend,
    /** `endpoint:N` */
    readonly id: string,
    readonly remoteApp?: string,
  ) {
    const m = RELATION_ID_RE.exec(id);
    if (!m) throw new InvalidArgumentError(`invalid relation id ${JSON.stringify(id)} (expected endpoint:N)`);
    this.endpoint = m[1] ?? '';
    this.num = Number(m[2]);
  }

  /** The remote units (relation-list), cached for the hook. */
  getUnits(): Promise<string[]> {
    this.units ??= this.backend.relationList(this.id);
    return this.units;
  }

  /** A unit's settings on this relation (relation-get), cached for the hook. */
  getData(unit: string): Promise<Record<string, string>> {
    let p = this.data.get(unit);
    if (p === undefined) {
      p = this.backend.relationGet(this.id, unit);
      this.data.set(unit, p);
    }
    return p;
  }
}

export class Unit {
  private leader?: Promise<boolean>;
  constructor(
    private readonly backend: ModelBackend,
    readonly name: string,
  ) {}

  /** status-get */
  async getStatus(): Promise<Status> {
    const s = await this.backend.statusGet();
    return { name: s.status, message: s.message };
  }
  /** status-set (only active, blocked, maintenance, waiting). */
  async setStatus(status: Status): Promise<void> {
    assertSettable(status);
    await this.backend.statusSet(status.name, status.message);
  }
  /** application-version-set */
  async setWorkloadVersion(version: string): Promise<void> {
    await this.backend.applicationVersionSet(version);
  }
  /** is-leader, cached for the hook. */
  isLeader(): Promise<boolean> {
    this.leader ??= this.backend.isLeader();
    return this.leader;
  }
}

/** Server-side key/value state (state-get / state-set), written once at commit. */
export class StoredState {
  private loaded?: Promise<Record<string, string>>;
  private readonly dirty = new Map<string, string>();
  constructor(private readonly backend: ModelBackend) {}

  private load(): Promise<Record<string, string>> {
    this.loaded ??= this.backend.stateGet();
    return this.loaded;
  }
  async get(key: string): Promise<string | undefined> {
    if (this.dirty.has(key)) return this.dirty.get(key);
    return (await this.load())[key];
  }
  set(key: string, value: string): void {
    this.dirty.set(key, value);
  }
  /** Read a JSON value through a schema; undefined when absent or invalid. */
  async getJson<S extends z.ZodType>(key: string, schema: S): Promise<z.output<S> | undefined> {
    const raw = await this.get(key);
    if (raw === undefined) return undefined;
    try {
      const r = schema.safeParse(JSON.parse(raw));
      return r.success ? r.data : undefined;
    } catch {
      return undefined;
    }
  }
  setJson(key: string, value: unknown): void {
    this.set(key, JSON.stringify(value));
  }
  /** Write the changed keys (state-set); called by the framework at commit. */
  async commit(): Promise<void> {
    if (this.dirty.size === 0) return;
    await this.backend.stateSet(Object.fromEntries(this.dirty));
    this.dirty.clear();
  }
}

export class Model {
  readonly unit: Unit;
  readonly appName: string;
  readonly stored: StoredState;
  private config?: Promise<Readonly<Record<string, ConfigValue>>>;
  private readonly networks = new Map<string, Promise<Network>>();

  constructor(
    private readonly backend: ModelBackend,
    readonly context: JujuContext,
    readonly spec: CharmSpec,
  ) {
    this.unit = new Unit(backend, context.unitName);
    this.appName = context.appName;
    this.stored = new StoredState(backend);
  }

  /** The raw option map (config-get), cached for the hook. */
  getConfig(): Promise<Readonly<Record<string, ConfigValue>>> {
    this.config ??= this.backend.configGet();
    return this.config;
  }

  /**
   * The config typed through the charm's schema. Never throws on bad values:
   * returns the problems, each naming its option, so the charm can block.
   */
  async loadConfig<S extends z.ZodType>(schema: S): Promise<ConfigResult<z.output<S>>> {
    const raw = await this.getConfig();
    const r = schema.safeParse(raw);
    if (r.success) return { ok: true, config: r.data };
    const problems = r.error.issues.map((i) => ({
      field: i.path.length > 0 ? i.path.map(String).join('.') : '(config)',
      message: i.message,
    }));
    return { ok: false, problems, message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') };
  }

  /** network-get for a binding (optionally in a relation's context), cached for the hook. */
  getBinding(name: string, relationId?: string): Promise<Network> {
    const key = `${name}\u0000${relationId ?? ''}`;
    let p = this.networks.get(key);
    if (p === undefined) {
      p = this.backend.networkGet(name, relationId).then(networkFromOutput);
      this.networks.set(key, p);
      // A failed lookup must not be cached as a permanent failure.
      p.catch(() => this.networks.delete(key));
    }
    return p;
  }

  /** The relations on an endpoint (relation-ids). */
  async getRelations(endpoint: string): Promise<Relation[]> {
    const ids = await this.backend.relationIds(endpoint);
    return ids.map((id) => this.relation(id));
  }

  private readonly relations = new Map<string, Relation>();
  /** The Relation object for `endpoint:N` (one per id per hook). */
  relation(id: string, remoteApp?: string): Relation {
    let r = this.relations.get(id);
    if (r === undefined) {
      r = new Relation(this.backend, id, remoteApp);
      this.relations.set(id, r);
    }
    return r;
  }
}
