/**
 * The engine configuration: the charm's options (or a CLI file) → EngineConfig.
 * Every problem names the option and the entry, e.g.
 *   { field: 'vrfs: storacc.table', message: '254 is reserved' }
 *   { field: 'gateways', message: 'entry "public=300.1.1.1" is not an IP address' }
 * (see formatProblem for the one-line form).
 */
import YAML from 'yaml';
import { z } from 'zod';
import { isDefaultCidr, parseCidr, parseIp, tryFamilyOf } from './addr.js';
import { ifNameProblem, vrfNameProblem } from './names.js';
import { parseServicesOption } from './services/config.js';
import { describe, yamlErrorText } from './yaml-text.js';
import {
  type HostOptions,
  familyName,
  RESERVED_TABLES,
  type EngineConfig,
  type Family,
  type GatewayOverride,
  type Problem,
  type RouteSpec,
  type ServiceEntry,
  type SpaceRoute,
  type VrfConfigEntry,
  type Warning,
} from './types.js';

export const MAX_TABLE = 0xffffffff;
export const MAX_METRIC = 0xffffffff;

/**
 * The options' defaults, as the charm's config.yaml declares them (a unit test holds the two
 * equal). A key missing here is not an option the parser below can read: the compiler says so.
 */
export const DEFAULT_CONFIG_RAW = {
  vrfs: '',
  gateways: '',
  'table-range': '1001-5000',
  strict: true,
  'move-local-rule': true,
  'exclude-interfaces': '',
  'preserve-reachability': true,
  'nonlocal-bind': true,
  'space-routes': '',
  'l3mdev-accept': true,
  'allow-forwarding': false,
  services: '',
} as const satisfies Readonly<Record<string, string | boolean>>;

/** An engine option (a key of config.yaml the engine reads). */
export type ConfigKey = keyof typeof DEFAULT_CONFIG_RAW;
type BoolKey = { [K in ConfigKey]: (typeof DEFAULT_CONFIG_RAW)[K] extends boolean ? K : never }[ConfigKey];
type StringKey = Exclude<ConfigKey, BoolKey>;

export type ConfigResult =
  | { readonly ok: true; readonly config: EngineConfig; readonly warnings: readonly Warning[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

const PREDICATE_RE = /^(is|are|has|must|matches|ignored|would|already)\b/;
const SUBKEY_RE = /\.[a-z][a-z0-9-]*$|\[\d+\]$/;

/**
 * One line for status and logs. A field that names an option's entry or key
 * (`vrfs: storacc.table`) followed by a predicate-like message reads as one sentence:
 * `vrfs: storacc.table 254 is reserved`; otherwise field and message are joined with
 * a colon: `gateways: entry "public=300.1.1.1" is not an IP address`,
 * `public: no gateway found for 172.16.0.0/24; set config gateways`.
 */
export function formatProblem(p: Problem | Warning): string {
  const sentence = p.field.includes(': ') && (SUBKEY_RE.test(p.field) || PREDICATE_RE.test(p.message));
  return sentence ? `${p.field} ${p.message}` : `${p.field}: ${p.message}`;
}

/** Binding and VRF names used as keys (gateways, space-routes): Juju endpoint names. */
const KEY_NAME_RE = /^[a-z][a-z0-9_-]*$/;

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

const RawScalar = z.union([z.string(), z.boolean(), z.number(), z.null(), z.undefined()]);

function rawValue(
  raw: Record<string, unknown>,
  key: ConfigKey,
  problems: Problem[],
): string | boolean | number | undefined {
  const v = RawScalar.safeParse(raw[key]);
  if (!v.success) {
    const want =
      typeof DEFAULT_CONFIG_RAW[key] === 'boolean'
        ? 'true or false'
        : key === 'vrfs'
          ? 'a YAML string or a mapping'
          : 'a string';
    problems.push({ field: key, message: `must be ${want}, not ${describe(raw[key])}` });
    return undefined;
  }
  return v.data === null || v.data === undefined ? DEFAULT_CONFIG_RAW[key] : v.data;
}

function parseBool(raw: Record<string, unknown>, key: BoolKey, problems: Problem[]): boolean {
  const v = rawValue(raw, key, problems);
  const def = DEFAULT_CONFIG_RAW[key] === true;
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  problems.push({ field: key, message: `must be true or false, not ${JSON.stringify(v)}` });
  return def;
}

const WORD_LIST_OPTIONS: ReadonlySet<ConfigKey> = new Set(['gateways', 'exclude-interfaces', 'space-routes']);

function parseString(raw: Record<string, unknown>, key: StringKey, problems: Problem[]): string {
  const list = z.array(z.string()).safeParse(raw[key]);
  if (WORD_LIST_OPTIONS.has(key) && list.success) return list.data.join(' ');
  const v = rawValue(raw, key, problems);
  if (v === undefined) return '';
  if (typeof v !== 'string') {
    problems.push({ field: key, message: `must be a string, not ${JSON.stringify(v)}` });
    return '';
  }
  return v;
}

/** Space- or comma-separated words. */
const words = (s: string): string[] => s.split(/[\s,]+/).filter((w) => w.length > 0);

// ---------------------------------------------------------------------------
// table-range
// ---------------------------------------------------------------------------

function parseTableRange(s: string, problems: Problem[]): { min: number; max: number } {
  const fallback = { min: 1001, max: 5000 };
  const m = /^\s*([0-9]{1,10})\s*-\s*([0-9]{1,10})\s*$/.exec(s);
  if (!m) {
    problems.push({ field: 'table-range', message: `"${s}" is not MIN-MAX, e.g. 1001-5000` });
    return fallback;
  }
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (min < 1 || max > MAX_TABLE) {
    problems.push({ field: 'table-range', message: `"${s}" must lie within 1-${MAX_TABLE}` });
    return fallback;
  }
  if (min > max) {
    problems.push({ field: 'table-range', message: `"${s}": MIN is greater than MAX` });
    return fallback;
  }
  if (min >= 253 && max <= 255) {
    problems.push({ field: 'table-range', message: `"${s}" holds only reserved tables (253-255)` });
    return fallback;
  }
  return { min, max };
}

// ---------------------------------------------------------------------------
// gateways: KEY=ADDRESS …
// ---------------------------------------------------------------------------

interface ParsedKey {
  readonly key: string;
  readonly keyKind: 'name' | 'cidr';
}

function parseKey(k: string): ParsedKey | string {
  if (k.includes('/')) {
    const p = parseCidr(k);
    if (!p) return `key "${k}" is not a valid CIDR`;
    return { key: p.cidr, keyKind: 'cidr' };
  }
  if (!KEY_NAME_RE.test(k)) return `key "${k}" is not a binding name, a VRF name or a CIDR`;
  return { key: k, keyKind: 'name' };
}

function parseGateways(s: string, problems: Problem[]): GatewayOverride[] {
  const out: GatewayOverride[] = [];
  const seen = new Map<string, string>();
  for (const entry of words(s)) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      problems.push({ field: 'gateways', message: `entry "${entry}" is not KEY=ADDRESS` });
      continue;
    }
    const k = parseKey(entry.slice(0, eq));
    if (typeof k === 'string') {
      problems.push({ field: 'gateways', message: `entry "${entry}": ${k}` });
      continue;
    }
    const ip = parseIp(entry.slice(eq + 1));
    if (!ip) {
      problems.push({ field: 'gateways', message: `entry "${entry}" is not an IP address` });
      continue;
    }
    const address = ip.toString();
    const family: Family = ip.kind() === 'ipv4' ? 'inet' : 'inet6';
    if (k.keyKind === 'cidr' && tryFamilyOf(address) !== parseCidr(k.key)?.family) {
      problems.push({
        field: 'gateways',
        message: `entry "${entry}": the address and the CIDR are of different families`,
      });
      continue;
    }
    const dupKey = `${k.key}|${family}`;
    const prev = seen.get(dupKey);
    if (prev !== undefined) {
      problems.push({
        field: 'gateways',
        message: `entry "${entry}": ${k.key} already has an ${familyName(family)} gateway ("${prev}")`,
      });
      continue;
    }
    seen.set(dupKey, entry);
    out.push({ key: k.key, keyKind: k.keyKind, family, address });
  }
  return out.sort((a, b) => (a.key === b.key ? a.family.localeCompare(b.family) : a.key < b.key ? -1 : 1));
}

// ---------------------------------------------------------------------------
// space-routes: KEY=CIDR[@VIA] …
// ---------------------------------------------------------------------------

function parseSpaceRoutes(s: string, problems: Problem[]): SpaceRoute[] {
  const out: SpaceRoute[] = [];
  const seen = new Set<string>();
  for (const entry of words(s)) {
    const m = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(entry);
    if (!m) {
      problems.push({ field: 'space-routes', message: `entry "${entry}" is not KEY=CIDR[@VIA]` });
      continue;
    }
    const key = m[1] ?? '';
    if (!KEY_NAME_RE.test(key)) {
      problems.push({ field: 'space-routes', message: `entry "${entry}": key "${key}" is not a binding or VRF name` });
      continue;
    }
    const dst = parseCidr(m[2] ?? '');
    if (!dst || !(m[2] ?? '').includes('/')) {
      problems.push({ field: 'space-routes', message: `entry "${entry}": "${m[2] ?? ''}" is not a CIDR` });
      continue;
    }
    if (dst.prefixlen === 0) {
      problems.push({
        field: 'space-routes',
        message: `entry "${entry}": the default route comes from gateways, not space-routes`,
      });
      continue;
    }
    let via: string | undefined;
    if (m[3] !== undefined) {
      const v = parseIp(m[3]);
      if (!v) {
        problems.push({ field: 'space-routes', message: `entry "${entry}": via "${m[3]}" is not an IP address` });
        continue;
      }
      via = v.toString();
      if (tryFamilyOf(via) !== dst.family) {
        problems.push({
          field: 'space-routes',
          message: `entry "${entry}": via ${via} is not ${familyName(dst.family)} like ${dst.cidr}`,
        });
        continue;
      }
    }
    const dup = `${key}|${dst.cidr}`;
    if (seen.has(dup)) {
      problems.push({ field: 'space-routes', message: `entry "${entry}": ${dst.cidr} is declared twice for ${key}` });
      continue;
    }
    seen.add(dup);
    out.push(via === undefined ? { key, to: dst.cidr } : { key, to: dst.cidr, via });
  }
  return out.sort((a, b) => (a.key === b.key ? (a.to < b.to ? -1 : 1) : a.key < b.key ? -1 : 1));
}

// ---------------------------------------------------------------------------
// exclude-interfaces
// ---------------------------------------------------------------------------

function parseExclude(s: string, problems: Problem[]): string[] {
  const out = new Set<string>();
  for (const w of words(s)) {
    const p = ifNameProblem(w);
    if (p !== null) problems.push({ field: 'exclude-interfaces', message: p });
    else out.add(w);
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------
// vrfs (YAML)
// ---------------------------------------------------------------------------

const RouteEntrySchema = z.strictObject({
  to: z.string(),
  via: z.string().optional(),
  metric: z.number().int().min(0).max(MAX_METRIC).optional(),
});

const VrfEntrySchema = z.strictObject({
  binding: z.string().min(1),
  table: z.number().int().optional(),
  gateway: z.union([z.string(), z.array(z.string())]).optional(),
  routes: z.array(RouteEntrySchema).optional(),
});
type VrfEntryRaw = z.infer<typeof VrfEntrySchema>;

const VRF_KEYS = Object.keys(VrfEntrySchema.shape).join(', ');
const ROUTE_KEYS = Object.keys(RouteEntrySchema.shape).join(', ');

function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `${s ? '.' : ''}${String(p)}`;
  return s;
}

function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function zodProblems(name: string, raw: unknown, issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.map((i) => {
    const at = pathText(i.path);
    const field = `vrfs: ${name}${at ? `.${at}` : ''}`;
    const input = getAt(raw, i.path);
    switch (i.code) {
      case 'unrecognized_keys': {
        const allowed = i.path.length === 0 ? VRF_KEYS : ROUTE_KEYS;
        return {
          field,
          message: `has unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed})`,
        };
      }
      case 'invalid_type':
        if (input === undefined) return { field, message: 'is required' };
        if (i.expected === 'int' || i.expected === 'number')
          return { field, message: `must be an integer, not ${describe(input)}` };
        if (i.expected === 'object') return { field, message: `must be a mapping, not ${describe(input)}` };
        return {
          field,
          message: `must be ${i.expected === 'array' ? 'a list' : `a ${i.expected}`}, not ${describe(input)}`,
        };
      case 'invalid_union':
        return { field, message: `must be an address or a list of addresses, not ${describe(input)}` };
      case 'too_small':
        return {
          field,
          message: i.origin === 'string' ? 'must not be empty' : `must be at least ${String(i.minimum)}`,
        };
      case 'too_big':
        return { field, message: `must be at most ${String(i.maximum)}` };
      default:
        return { field, message: i.message };
    }
  });
}

function tableProblem(t: number): string | null {
  if (RESERVED_TABLES.includes(t)) return `${t} is reserved`;
  if (t < 1 || t > MAX_TABLE) return `${t} is out of range (1-${MAX_TABLE})`;
  return null;
}

function parseVrfEntry(name: string, rawEntry: unknown, problems: Problem[]): VrfConfigEntry | null {
  const before = problems.length;
  const np = vrfNameProblem(name);
  if (np !== null) problems.push({ field: `vrfs: ${name}`, message: `is not a valid VRF name: ${np}` });
  const r = VrfEntrySchema.safeParse(rawEntry);
  if (!r.success) {
    problems.push(...zodProblems(name, rawEntry, r.error.issues));
    return null;
  }
  const e: VrfEntryRaw = r.data;
  const field = (k: string): string => `vrfs: ${name}.${k}`;
  if (e.table !== undefined) {
    const tp = tableProblem(e.table);
    if (tp) problems.push({ field: field('table'), message: tp });
  }
  const gateways: Partial<Record<Family, string>> = {};
  const gwList = e.gateway === undefined ? [] : Array.isArray(e.gateway) ? e.gateway : [e.gateway];
  gwList.forEach((g, i) => {
    const f = Array.isArray(e.gateway) ? field(`gateway[${i}]`) : field('gateway');
    const ip = parseIp(g);
    if (!ip) {
      problems.push({ field: f, message: `"${g}" is not an IP address` });
      return;
    }
    const fam: Family = ip.kind() === 'ipv4' ? 'inet' : 'inet6';
    if (gateways[fam] !== undefined) {
      problems.push({ field: field('gateway'), message: `has more than one ${familyName(fam)} address` });
      return;
    }
    gateways[fam] = ip.toString();
  });
  const routes: RouteSpec[] = [];
  const seenTo = new Set<string>();
  (e.routes ?? []).forEach((rt, i) => {
    const f = (k: string): string => field(`routes[${i}].${k}`);
    const dst = parseCidr(rt.to);
    if (!dst || !rt.to.includes('/')) {
      problems.push({ field: f('to'), message: `"${rt.to}" is not a CIDR` });
      return;
    }
    if (isDefaultCidr(dst.cidr)) {
      problems.push({ field: f('to'), message: 'the default route comes from gateway, not routes' });
      return;
    }
    if (seenTo.has(dst.cidr)) {
      problems.push({ field: f('to'), message: `${dst.cidr} is listed twice` });
      return;
    }
    seenTo.add(dst.cidr);
    let via: string | undefined;
    if (rt.via !== undefined) {
      const v = parseIp(rt.via);
      if (!v) {
        problems.push({ field: f('via'), message: `"${rt.via}" is not an IP address` });
        return;
      }
      via = v.toString();
      if (tryFamilyOf(via) !== dst.family) {
        problems.push({ field: f('via'), message: `${via} is not ${familyName(dst.family)} like ${dst.cidr}` });
        return;
      }
    }
    routes.push({
      to: dst.cidr,
      ...(via !== undefined ? { via } : {}),
      ...(rt.metric !== undefined ? { metric: rt.metric } : {}),
    });
  });
  if (problems.length > before) return null;
  routes.sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  return { binding: e.binding, ...(e.table !== undefined ? { table: e.table } : {}), gateways, routes };
}

function parseVrfs(text: string, problems: Problem[]): Record<string, VrfConfigEntry> | null {
  if (text.trim() === '') return null;
  const data = parseVrfsYaml(text, problems);
  return data === undefined ? null : parseVrfsData(data, problems);
}

/** undefined: a YAML error (reported). */
function parseVrfsYaml(text: string, problems: Problem[]): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    problems.push({ field: 'vrfs', message: yamlErrorText(err) });
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (cause) {
    problems.push({ field: 'vrfs', message: `invalid YAML: ${(cause as Error).message}` });
    return undefined;
  }
  return data;
}

function parseVrfsData(data: unknown, problems: Problem[]): Record<string, VrfConfigEntry> | null {
  if (data === null || data === undefined) return null; // only comments: automatic mode
  const top = z.record(z.string(), z.unknown()).safeParse(data);
  if (!top.success || Array.isArray(data)) {
    problems.push({ field: 'vrfs', message: `must be a mapping of VRF name to settings, not ${describe(data)}` });
    return null;
  }
  const out: Record<string, VrfConfigEntry> = {};
  for (const name of Object.keys(top.data).sort()) {
    const entry = parseVrfEntry(name, top.data[name], problems);
    if (entry) out[name] = entry;
  }
  // Across entries: one VRF per binding, one table per VRF.
  const byBinding = new Map<string, string>();
  const byTable = new Map<number, string>();
  for (const [name, e] of Object.entries(out)) {
    const b = byBinding.get(e.binding);
    if (b !== undefined)
      problems.push({ field: `vrfs: ${name}.binding`, message: `${e.binding} is already the binding of ${b}` });
    else byBinding.set(e.binding, name);
    if (e.table !== undefined) {
      const t = byTable.get(e.table);
      if (t !== undefined)
        problems.push({ field: `vrfs: ${name}.table`, message: `${e.table} is already the table of ${t}` });
      else byTable.set(e.table, name);
    }
  }
  return out;
}

/**
 * The services option (src/vrf/services/config.ts): YAML text, or (a CLI file) the mapping itself.
 * Absent or null: none.
 */
function parseServices(v: unknown, problems: Problem[]): ServiceEntry[] {
  if (v === undefined || v === null) return [];
  const text = typeof v === 'object' && !Array.isArray(v) ? YAML.stringify(v) : v;
  if (typeof text !== 'string') {
    problems.push({ field: 'services', message: `must be a mapping of unit name to VRF, not ${describe(v)}` });
    return [];
  }
  const r = parseServicesOption(text);
  if (!r.ok) {
    problems.push(...r.problems);
    return [];
  }
  return [...r.entries];
}

// ---------------------------------------------------------------------------

/**
 * Validate the charm options (or a CLI file). Keys other than the engine's
 * (heal-drift, dry-run, …) are ignored; missing or null keys take their default.
 */
export function parseEngineConfig(raw: Record<string, unknown>): ConfigResult {
  const problems: Problem[] = [];
  const warnings: Warning[] = [];
  const rawObj = z.record(z.string(), z.unknown()).safeParse(raw);
  if (!rawObj.success)
    return { ok: false, problems: [{ field: 'config', message: 'must be a mapping of option to value' }] };
  const r = rawObj.data;

  const vrfsRaw = r['vrfs'];
  const vrfs =
    vrfsRaw !== null && typeof vrfsRaw === 'object' && !Array.isArray(vrfsRaw)
      ? (parseVrfsData(vrfsRaw, problems) ?? {})
      : parseVrfs(parseString(r, 'vrfs', problems), problems);
  const gateways = parseGateways(parseString(r, 'gateways', problems), problems);
  const tableRange = parseTableRange(parseString(r, 'table-range', problems), problems);
  const excludeInterfaces = parseExclude(parseString(r, 'exclude-interfaces', problems), problems);
  const spaceRoutes = parseSpaceRoutes(parseString(r, 'space-routes', problems), problems);
  const options: HostOptions = {
    strict: parseBool(r, 'strict', problems),
    moveLocalRule: parseBool(r, 'move-local-rule', problems),
    preserveReachability: parseBool(r, 'preserve-reachability', problems),
    nonlocalBind: parseBool(r, 'nonlocal-bind', problems),
    l3mdevAccept: parseBool(r, 'l3mdev-accept', problems),
  };
  const allowForwarding = parseBool(r, 'allow-forwarding', problems);
  const services = parseServices(r['services'], problems);

  if (vrfs) {
    for (const [name, e] of Object.entries(vrfs)) {
      if (e.table !== undefined && (e.table < tableRange.min || e.table > tableRange.max)) {
        warnings.push({
          field: `vrfs: ${name}.table`,
          message: `${e.table} is outside table-range ${tableRange.min}-${tableRange.max} (allowed, but unusual)`,
        });
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      vrfs,
      gateways,
      tableRange,
      excludeInterfaces,
      spaceRoutes,
      options,
      allowForwarding,
      services,
    },
    warnings,
  };
}

/** The defaults as an EngineConfig (automatic mode). */
export function defaultEngineConfig(): EngineConfig {
  const r = parseEngineConfig({ ...DEFAULT_CONFIG_RAW });
  if (!r.ok) throw new Error('the default configuration does not validate');
  return r.config;
}
