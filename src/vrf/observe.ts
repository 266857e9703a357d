/**
 * Observe: the `ip` lines that read the host, and the parser that turns their
 * output into an ObservedHost (zod-validated, canonical addresses and prefixes,
 * numeric tables).
 *
 * What iproute2 6.1 does (tested): `ip -json -batch -` prints one JSON array per
 * command, each on its own line, in line order; a failing command prints
 * nothing (with `-force` ip goes on and exits 1). A batch line cannot carry
 * options (`-6 rule show` → `Object "-6" is unknown`), `route show table all`
 * with a `root` prefix selects one family, but `rule show` is IPv4 unless ip
 * runs with `-6`. So the last line, `-6 rule show`, must run in its own
 * `ip -6 -json -details -batch -` process, and its output is appended after the
 * first process's output (the parser reads documents in line order).
 *
 * Prefer `-Numeric` (`-N`): tables, protocols, scopes and types are then printed
 * as numbers and no name file (/etc/iproute2/rt_tables.d) can change the output.
 * Without it the parser still understands the fixed names and tables named
 * after a VRF on the host; any other table name is an error naming the command.
 */
import type { z } from 'zod';
import { canonicalIp, maxPrefix, parseCidr, tryCanonicalIp } from './addr.js';
import type { Addr, Family, Link, ObservedHost, Route, RouteGet, Rule, Sysctls } from './types.js';
import { TABLE } from './types.js';
import {
  AddrDocSchema,
  LinkDocSchema,
  RouteDocSchema,
  RouteGetDocSchema,
  RuleDocSchema,
  VlanInfoDataSchema,
  VrfInfoDataSchema,
  type RawLink,
  type RawRoute,
  type RawRule,
} from './observe/schemas.js';
import { VrfError } from './errors.js';

export class ObserveError extends VrfError {
  override name = 'ObserveError';
  /** The ip command whose output was bad, e.g. `ip -json -details route show table all root ::/0`. */
  readonly command: string;
  constructor(command: string, message: string, options?: { cause?: unknown }) {
    super(`${command}: ${message}`, options);
    this.command = command;
  }
}

export interface ObserveExtras {
  readonly sysctls: Sysctls;
  readonly vrfModule: boolean;
  readonly container: boolean;
  readonly controllers: readonly string[];
}

/** Options for the ip process(es) that run observeBatch's lines (add `-6` for a line that starts with it). */
export const OBSERVE_IP_OPTIONS: readonly string[] = ['-json', '-details', '-Numeric'];

const FIXED_LINES: readonly (readonly string[])[] = [
  ['link', 'show'],
  ['addr', 'show'],
  ['route', 'show', 'table', 'all', 'root', '0.0.0.0/0'],
  ['route', 'show', 'table', 'all', 'root', '::/0'],
  ['rule', 'show'],
];
const RULE6_LINE: readonly string[] = ['-6', 'rule', 'show'];

/**
 * The lines that read the host, in order: link, addr, IPv4 routes (all tables),
 * IPv6 routes (all tables), IPv4 rules, `route get` per controller, and last
 * `-6 rule show`, which needs an `ip -6` process of its own.
 */
export function observeBatch(controllers: readonly string[]): string[][] {
  const gets = [...new Set(controllers.map((c) => canonicalIp(c)))].map((c) => ['route', 'get', c]);
  return [...FIXED_LINES.map((l) => [...l]), ...gets, [...RULE6_LINE]];
}

// ---------------------------------------------------------------------------
// Splitting ip's output into JSON documents
// ---------------------------------------------------------------------------

/** Splits concatenated JSON values (whitespace between them optional); throws on malformed text. */
export function splitJsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    const open = text[i];
    if (open !== '[' && open !== '{')
      throw new SyntaxError(`expected a JSON array at offset ${i}, found ${JSON.stringify(text.slice(i, i + 20))}`);
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) throw new SyntaxError(`unterminated JSON value at offset ${start}`);
    docs.push(JSON.parse(text.slice(start, i)));
  }
  return docs;
}

// ---------------------------------------------------------------------------
// Name ↔ number maps (kernel constants from rtnetlink.h / fib_rules.h)
// ---------------------------------------------------------------------------

const ROUTE_TYPES: Readonly<Record<string, string>> = {
  '1': 'unicast',
  '2': 'local',
  '3': 'broadcast',
  '4': 'anycast',
  '5': 'multicast',
  '6': 'blackhole',
  '7': 'unreachable',
  '8': 'prohibit',
  '9': 'throw',
  '10': 'nat',
  '11': 'xresolve',
};
const PROTOCOLS: Readonly<Record<string, string>> = {
  '2': 'kernel',
  '3': 'boot',
  '4': 'static',
  '9': 'ra',
  '16': 'dhcp',
};
/** A rule added without `protocol` is 0 (ip prints "unspec"). */
const RULE_PROTOCOLS: Readonly<Record<string, string>> = { ...PROTOCOLS, '0': 'unspec' };
const SCOPES: Readonly<Record<string, string>> = {
  '0': 'global',
  '200': 'site',
  '253': 'link',
  '254': 'host',
  '255': 'nowhere',
  universe: 'global',
};
const RULE_ACTIONS: Readonly<Record<string, string>> = {
  '1': 'lookup',
  to_tbl: 'lookup',
  '2': 'goto',
  '3': 'nop',
  '6': 'blackhole',
  '7': 'unreachable',
  '8': 'prohibit',
};
const NAMED_TABLES: Readonly<Record<string, number>> = {
  unspec: TABLE.unspec,
  default: TABLE.default,
  main: TABLE.main,
  local: TABLE.local,
};

/** Rule fields we model (anything else is a selector we cannot reproduce). */
const RULE_FIELDS: ReadonlySet<string> = new Set([
  'priority',
  'src',
  'srclen',
  'dst',
  'dstlen',
  'table',
  'l3mdev',
  'iif',
  'oif',
  'fwmark',
  'fwmask',
  'action',
  'goto',
  'nop',
  'not',
  'protocol',
  'flags',
  'iif_detached',
  'oif_detached',
]);

function mapped(v: string | number | undefined, table: Readonly<Record<string, string>>, dflt: string): string {
  if (v === undefined) return dflt;
  const s = String(v);
  return table[s] ?? s;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

interface Ctx {
  readonly vrfTables: ReadonlyMap<string, number>;
}

function validate<T>(schema: z.ZodType<T>, doc: unknown, command: string): T {
  const r = schema.safeParse(doc);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first ? `${first.path.join('.') || '(top)'}: ${first.message}` : r.error.message;
    throw new ObserveError(command, `unexpected output at ${where}`, { cause: r.error });
  }
  return r.data;
}

function tableOf(v: string | number | undefined, ctx: Ctx, command: string): number {
  if (v === undefined) return TABLE.main;
  if (typeof v === 'number') return v;
  if (/^[0-9]+$/.test(v)) return Number(v);
  const named = NAMED_TABLES[v] ?? ctx.vrfTables.get(v);
  if (named === undefined)
    throw new ObserveError(command, `table "${v}" is a name this parser cannot map to a number; run ip with -Numeric`);
  return named;
}

function parseLink(l: RawLink, command: string): Link {
  const kind = l.linkinfo?.info_kind ?? null;
  let vrfTable: number | null = null;
  if (kind === 'vrf')
    vrfTable = validate(VrfInfoDataSchema, l.linkinfo?.info_data, `${command} (${l.ifname} info_data)`).table;
  return {
    name: l.ifname,
    ifindex: l.ifindex,
    kind,
    slaveKind: l.linkinfo?.info_slave_kind ?? null,
    master: l.master ?? null,
    up: l.flags.includes('UP'),
    vrfTable,
    lower: kind === 'vlan' ? (l.link ?? null) : null,
    looseBinding:
      kind === 'vlan' &&
      validate(VlanInfoDataSchema, l.linkinfo?.info_data ?? {}, `${command} (${l.ifname} info_data)`).flags.includes(
        'LOOSE_BINDING',
      ),
    mac: l.address ?? null,
  };
}

function cidrOf(addr: string, len: number | undefined, family: Family, command: string): string {
  const p = parseCidr(len === undefined ? addr : `${addr}/${len}`, family);
  if (!p) throw new ObserveError(command, `"${addr}${len === undefined ? '' : `/${len}`}" is not an ${family} prefix`);
  return p.cidr;
}

function ipOf(s: string, command: string): string {
  const c = tryCanonicalIp(s);
  if (c === null) throw new ObserveError(command, `"${s}" is not an IP address`);
  return c;
}

function parseRoute(r: RawRoute, family: Family, ctx: Ctx, command: string): Route {
  const gw = r.gateway ?? r.via?.host;
  return {
    family,
    table: tableOf(r.table, ctx, command),
    dst: cidrOf(r.dst, undefined, family, command),
    type: mapped(r.type, ROUTE_TYPES, 'unicast'),
    gateway: gw === undefined ? null : ipOf(gw, command),
    dev: r.dev ?? null,
    protocol: mapped(r.protocol, PROTOCOLS, 'boot'),
    scope: mapped(r.scope, SCOPES, 'global'),
    metric: r.metric ?? null,
    prefsrc: r.prefsrc === undefined ? null : ipOf(r.prefsrc, command),
  };
}

function parseRule(r: RawRule, family: Family, ctx: Ctx, command: string): Rule {
  const l3mdev = 'l3mdev' in r;
  let action: string;
  if (r.action !== undefined) action = mapped(r.action, RULE_ACTIONS, String(r.action));
  else if (r.goto !== undefined) action = 'goto';
  else if ('nop' in r) action = 'nop';
  else action = 'lookup';
  // Selectors we do not model (tos, ipproto, sport, uidrange, suppress_prefixlength, …) and
  // `not` make the rule something vrf-host must never recreate or migrate: say so in action.
  const extra = Object.keys(r)
    .filter((k) => !RULE_FIELDS.has(k))
    .sort();
  if ('not' in r) extra.unshift('not');
  if (extra.length > 0) action = `${action}+${extra.join('+')}`;
  const src =
    r.src === undefined || r.src === 'all' ? null : cidrOf(r.src, r.srclen ?? maxPrefix(family), family, command);
  const dst =
    r.dst === undefined || r.dst === 'all' ? null : cidrOf(r.dst, r.dstlen ?? maxPrefix(family), family, command);
  return {
    family,
    priority: r.priority,
    src,
    dst,
    table: r.table === undefined ? null : tableOf(r.table, ctx, command),
    l3mdev,
    iif: r.iif ?? null,
    oif: r.oif ?? null,
    fwmark: r.fwmark === undefined ? null : r.fwmask === undefined ? r.fwmark : `${r.fwmark}/${r.fwmask}`,
    action,
    ...(r.protocol === undefined ? {} : { protocol: mapped(r.protocol, RULE_PROTOCOLS, 'unspec') }),
  };
}

const cmd = (line: readonly string[]): string => `ip ${OBSERVE_IP_OPTIONS.join(' ')} ${line.join(' ')}`;

/**
 * Parses the output of observeBatch's lines. `stdout` is either one string with
 * every document in line order (the `-6 rule show` process's output appended),
 * or one string per ip process in line order.
 */
export function parseObserved(stdout: string | readonly string[], extras: ObserveExtras): ObservedHost {
  const text = typeof stdout === 'string' ? stdout : stdout.join('\n');
  let docs: unknown[];
  try {
    docs = splitJsonDocuments(text);
  } catch (e) {
    throw new ObserveError(cmd(['-batch', '-']), `output is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const need = FIXED_LINES.length + 1;
  if (docs.length < need) {
    const missing = docs.length < FIXED_LINES.length ? FIXED_LINES[docs.length]! : RULE6_LINE;
    throw new ObserveError(cmd(missing), `no output (got ${docs.length} of at least ${need} JSON documents)`);
  }
  const [linkCmd, addrCmd, route4Cmd, route6Cmd, rule4Cmd] = FIXED_LINES.map(cmd) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const rule6Cmd = cmd(RULE6_LINE);

  const links = validate(LinkDocSchema, docs[0], linkCmd).map((l) => parseLink(l, linkCmd));
  const vrfTables = new Map<string, number>();
  for (const l of links) if (l.kind === 'vrf' && l.vrfTable !== null) vrfTables.set(l.name, l.vrfTable);
  const ctx: Ctx = { vrfTables };

  const addrs: Addr[] = [];
  for (const dev of validate(AddrDocSchema, docs[1], addrCmd)) {
    for (const a of dev.addr_info) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      if (a.local === undefined)
        throw new ObserveError(addrCmd, `${dev.ifname}: an ${a.family} address without "local"`);
      const address = ipOf(a.local, addrCmd);
      if (a.prefixlen > maxPrefix(a.family))
        throw new ObserveError(addrCmd, `${dev.ifname}: prefix length ${a.prefixlen} too long`);
      addrs.push({
        dev: dev.ifname,
        family: a.family,
        address,
        prefixlen: a.prefixlen,
        scope: mapped(a.scope, SCOPES, 'global'),
      });
    }
  }

  const routes: Route[] = [
    ...validate(RouteDocSchema, docs[2], route4Cmd).map((r) => parseRoute(r, 'inet', ctx, route4Cmd)),
    ...validate(RouteDocSchema, docs[3], route6Cmd).map((r) => parseRoute(r, 'inet6', ctx, route6Cmd)),
  ];

  const rules: Rule[] = [
    ...validate(RuleDocSchema, docs[4], rule4Cmd).map((r) => parseRule(r, 'inet', ctx, rule4Cmd)),
    ...validate(RuleDocSchema, docs[docs.length - 1], rule6Cmd).map((r) => parseRule(r, 'inet6', ctx, rule6Cmd)),
  ];

  // `route get` documents sit between; a controller whose lookup failed (ip -force) has none.
  const got = new Map<string, RouteGet>();
  for (const doc of docs.slice(FIXED_LINES.length, docs.length - 1)) {
    for (const g of validate(RouteGetDocSchema, doc, cmd(['route', 'get', '…']))) {
      const dst = tryCanonicalIp(g.dst);
      if (dst === null) continue;
      got.set(dst, {
        dev: g.dev ?? null,
        gateway: g.gateway === undefined ? null : ipOf(g.gateway, cmd(['route', 'get', dst])),
      });
    }
  }
  const routeGet: Record<string, RouteGet> = {};
  for (const c of extras.controllers) {
    const ip = canonicalIp(c);
    routeGet[ip] = got.get(ip) ?? { dev: null, gateway: null };
  }

  return {
    links,
    addrs,
    routes,
    rules,
    sysctls: extras.sysctls,
    routeGet,
    vrfModule: extras.vrfModule,
    container: extras.container,
  };
}
