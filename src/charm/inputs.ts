/**
 * Turning what Juju says (config-get, network-get, JUJU_API_ADDRESSES) into the
 * engine's inputs. Pure functions of plain data: no event objects, no hook
 * tools. The charm gathers the data and passes it here.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { tryCanonicalCidr, tryCanonicalIp } from '../vrf/addr.js';
import { parseEngineConfig } from '../vrf/config.js';
import {
  DEFAULT_BINDING,
  type BindingInterface,
  type Bindings,
  type EngineConfig,
  type Problem,
  type Warning,
} from '../vrf/types.js';

/** The options only the charm reads (the engine ignores them). */
const CharmOnly = z.object({
  'heal-drift': z.boolean({ error: 'must be true or false' }).default(true),
  'dry-run': z.boolean({ error: 'must be true or false' }).default(false),
});

/** The charm-only options' defaults (config.yaml declares the same; a unit test holds them equal). */
export function charmOnlyDefaults(): z.output<typeof CharmOnly> {
  return CharmOnly.parse({});
}

export interface CharmConfig {
  readonly engine: EngineConfig;
  readonly healDrift: boolean;
  readonly dryRun: boolean;
  readonly warnings: readonly Warning[];
}

export type CharmConfigResult =
  ({ readonly ok: true } & CharmConfig) | { readonly ok: false; readonly problems: readonly Problem[] };

/** Validate every option: the engine's (parseEngineConfig) and the charm's own. */
export function parseCharmConfig(raw: Readonly<Record<string, unknown>>): CharmConfigResult {
  const problems: Problem[] = [];
  const own = CharmOnly.safeParse({
    'heal-drift': raw['heal-drift'] ?? undefined,
    'dry-run': raw['dry-run'] ?? undefined,
  });
  if (!own.success) {
    for (const i of own.error.issues)
      problems.push({ field: i.path.map(String).join('.') || 'config', message: i.message });
  }
  const engine = parseEngineConfig({ ...raw });
  if (!engine.ok) problems.unshift(...engine.problems);
  if (problems.length > 0 || !engine.ok || !own.success) return { ok: false, problems };
  return {
    ok: true,
    engine: engine.config,
    healDrift: own.data['heal-drift'],
    dryRun: own.data['dry-run'],
    warnings: engine.warnings,
  };
}

/**
 * The plan action's `config` param: a mapping of option names to values (what
 * `juju run … plan config='{…}'` delivers: Juju parses the argument as YAML),
 * or the same as YAML or JSON text, checked against the options config.yaml
 * declares, merged over the current config.
 */
export function applyOverrides(
  current: Readonly<Record<string, unknown>>,
  overrides: string | Readonly<Record<string, unknown>>,
  known: readonly string[],
): { ok: true; config: Record<string, unknown> } | { ok: false; problem: Problem } {
  let doc: unknown = overrides;
  if (typeof overrides === 'string') {
    try {
      doc = YAML.parse(overrides);
    } catch (e) {
      const first = ((e as Error).message.split('\n')[0] ?? '').trim();
      return { ok: false, problem: { field: 'config', message: `is not valid YAML or JSON: ${first}` } };
    }
  }
  const parsed = z.record(z.string(), z.unknown()).safeParse(doc);
  if (!parsed.success || doc === null || Array.isArray(doc)) {
    return {
      ok: false,
      problem: { field: 'config', message: 'must be a mapping of option names to values, e.g. {strict: false}' },
    };
  }
  const unknown = Object.keys(parsed.data).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    return {
      ok: false,
      problem: {
        field: 'config',
        message:
          `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}` +
          ` (options: ${known.join(', ')})`,
      },
    };
  }
  // A nested vrfs or services mapping in the override is the same as its YAML text.
  const over = Object.fromEntries(
    Object.entries(parsed.data).map(([k, v]) => [
      k,
      (k === 'vrfs' || k === 'services') && v !== null && typeof v === 'object' ? YAML.stringify(v) : v,
    ]),
  );
  return { ok: true, config: { ...current, ...over } };
}

/** What network-get says of one binding, as plain data (src/ops' Network has this shape). */
export interface NetworkData {
  readonly interfaces: readonly {
    readonly name: string;
    readonly mac?: string;
    readonly addresses: readonly { readonly address: string; readonly cidr: string }[];
  }[];
}

export interface BindingsResult {
  readonly bindings: Bindings;
  /** Bindings network-get reports no usable address for (yet). */
  readonly withoutAddress: readonly string[];
  /** Addresses dropped because Juju gave no subnet or an unparseable value. */
  readonly dropped: readonly string[];
}

/** network-get per binding → the engine's Bindings (canonical addresses and subnets). */
export function bindingsFromNetworks(networks: Readonly<Record<string, NetworkData>>): BindingsResult {
  const bindings: Record<string, BindingInterface[]> = {};
  const withoutAddress: string[] = [];
  const dropped: string[] = [];
  for (const [name, net] of Object.entries(networks)) {
    const ifs: BindingInterface[] = [];
    for (const i of net.interfaces) {
      const addresses = [];
      for (const a of i.addresses) {
        const address = tryCanonicalIp(a.address);
        const cidr = a.cidr === '' ? null : tryCanonicalCidr(a.cidr);
        if (address === null || cidr === null) {
          dropped.push(`${name}: ${i.name} ${a.address}${a.cidr ? ` (${a.cidr})` : ' (no subnet)'}`);
          continue;
        }
        addresses.push({ address, cidr });
      }
      ifs.push({ name: i.name, ...(i.mac !== undefined ? { mac: i.mac } : {}), addresses });
    }
    if (!ifs.some((i) => i.addresses.length > 0)) withoutAddress.push(name);
    bindings[name] = ifs;
  }
  return { bindings, withoutAddress, dropped };
}

/** The bindings the engine will look at: the default one plus every VRF candidate. */
export function bindingsInUse(config: EngineConfig, extraBindings: readonly string[]): string[] {
  const used = config.vrfs === null ? extraBindings : Object.values(config.vrfs).map((v) => v.binding);
  return [DEFAULT_BINDING, ...used.filter((b) => b !== DEFAULT_BINDING)];
}

/** JUJU_API_ADDRESSES hosts → controller IPs (ports are already stripped; hostnames are skipped). */
export function controllersFrom(hosts: readonly string[]): { controllers: string[]; skipped: string[] } {
  const controllers: string[] = [];
  const skipped: string[] = [];
  for (const h of hosts) {
    const ip = tryCanonicalIp(h.replace(/%.*$/, ''));
    if (ip === null) skipped.push(h);
    else if (!controllers.includes(ip)) controllers.push(ip);
  }
  return { controllers, skipped };
}
