/**
 * Step → `ip -batch` argv (or a sysctl write), every token validated.
 *
 * Route families travel in the addresses: a default route is written `0.0.0.0/0`
 * or `::/0`, so ip knows the family without `-6` (a batch line cannot carry
 * options). Rules are different: `ip rule` takes its family only from -4/-6
 * (an IPv6 `from` prefix, even `::/0`, is refused or read as IPv4 — tested on
 * iproute2 6.1), so every IPv6 rule line starts with `-6` and must run in an
 * `ip -6 -batch -` process (see `batchFamilyOption`); the planner keeps those
 * lines together.
 *
 * `route-add` renders as `ip route replace` so that a run that stopped half-way
 * converges on the next one. `vrf-replace` renders as the deletion of the VRF;
 * the planner follows it with a `vrf-create`.
 */
import { familyOf, familyOfCidr, parseCidr } from './addr.js';
import { ifNameProblem, vrfNameProblem } from './names.js';
import { networkdPathProblem } from './networkd/render.js';
import type { Family, RouteTarget, RuleTarget, Step } from './types.js';
import { OWNED_SYSCTLS, RESERVED_TABLES, TABLE } from './types.js';
import { VrfError } from './errors.js';

export class RenderError extends VrfError {
  override name = 'RenderError';
}

export type RenderedStep =
  | { readonly kind: 'ip'; readonly argv: readonly string[] }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string }
  /** A file under the root (null content: remove it). */
  | { readonly kind: 'file'; readonly path: string; readonly content: string | null };

/** The option a rendered line needs on its ip process (`-6`), or null; the line without it. */
export function batchFamilyOption(argv: readonly string[]): { option: '-6' | null; line: readonly string[] } {
  return argv[0] === '-6' ? { option: '-6', line: argv.slice(1) } : { option: null, line: argv };
}

function vrfName(s: string): string {
  const p = vrfNameProblem(s);
  if (p !== null) throw new RenderError(`invalid VRF name: ${p}`);
  return s;
}

function ifName(s: string): string {
  const p = ifNameProblem(s);
  if (p !== null) throw new RenderError(`invalid interface name: ${p}`);
  return s;
}

function table(n: number, what: string, allowReserved: boolean): string {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RenderError(`${what}: invalid table ${n}`);
  if (!allowReserved && RESERVED_TABLES.includes(n)) throw new RenderError(`${what}: table ${n} is reserved`);
  return String(n);
}

function u32(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RenderError(`${what}: invalid number ${n}`);
  return String(n);
}

function prefix(s: string, family: Family, what: string): string {
  const p = parseCidr(s, family);
  if (!p || p.cidr !== s) throw new RenderError(`${what}: ${JSON.stringify(s)} is not a canonical ${family} prefix`);
  return p.cidr;
}

function address(s: string, family: Family, what: string): string {
  let f: Family;
  try {
    f = familyOf(s);
  } catch (e) {
    throw new RenderError(`${what}: ${JSON.stringify(s)} is not an address`, { cause: e });
  }
  if (f !== family) throw new RenderError(`${what}: ${s} is not ${family === 'inet' ? 'IPv4' : 'IPv6'}`);
  return s;
}

const WORD = /^[a-z0-9_]+$/;

function word(s: string, what: string): string {
  if (!WORD.test(s)) throw new RenderError(`${what}: invalid token ${JSON.stringify(s)}`);
  return s;
}

function familyCheck(family: Family, dst: string, what: string): void {
  let f: Family;
  try {
    f = familyOfCidr(dst);
  } catch (e) {
    throw new RenderError(`${what}: ${JSON.stringify(dst)} is not a prefix`, { cause: e });
  }
  if (f !== family) throw new RenderError(`${what}: ${dst} is not ${family}`);
}

function routeArgv(verb: 'replace' | 'del', r: RouteTarget): string[] {
  const what = `route ${verb} ${r.dst}`;
  familyCheck(r.family, r.dst, what);
  const argv = ['route', verb];
  if (r.type === 'unreachable') argv.push('unreachable');
  else if (r.type !== 'unicast') throw new RenderError(`${what}: unsupported type ${String(r.type)}`);
  argv.push(prefix(r.dst, r.family, what));
  if (r.type === 'unicast') {
    if (r.gateway !== undefined) argv.push('via', address(r.gateway, r.family, what));
    if (r.dev !== undefined) argv.push('dev', ifName(r.dev));
    if (r.gateway === undefined && r.dev === undefined)
      throw new RenderError(`${what}: a unicast route needs a gateway or a device`);
  }
  if (r.metric !== undefined) argv.push('metric', u32(r.metric, what));
  if (verb === 'replace') {
    if (r.protocol !== undefined && r.protocol !== 'boot') argv.push('proto', word(r.protocol, what));
    if (r.scope !== undefined && r.type === 'unicast') argv.push('scope', word(r.scope, what));
    if (r.prefsrc !== undefined) argv.push('src', address(r.prefsrc, r.family, what));
  }
  argv.push(
    'table',
    table(r.table, what, r.table === TABLE.main || r.table === TABLE.local || r.table === TABLE.default),
  );
  return argv;
}

function ruleArgv(verb: 'add' | 'del', r: RuleTarget): string[] {
  const what = `rule ${verb} pref ${r.priority}`;
  const argv = ['rule', verb, 'pref', u32(r.priority, what)];
  // `protocol` only on add: it says who made the rule (a stock rule given back is `protocol
  // kernel`, as the kernel made it); a delete selects by priority, source and table.
  const proto =
    verb === 'add' && r.protocol !== undefined && r.protocol !== 'unspec' ? ['protocol', word(r.protocol, what)] : [];
  if (r.l3mdev === true) {
    if (r.src !== undefined || r.dst !== undefined)
      throw new RenderError(`${what}: an l3mdev rule takes no source or destination`);
    argv.push('l3mdev', ...proto);
    return r.family === 'inet6' ? ['-6', ...argv] : argv;
  }
  if (r.src !== undefined) {
    familyCheck(r.family, r.src, what);
    argv.push('from', prefix(r.src, r.family, what));
  }
  if (r.dst !== undefined) {
    familyCheck(r.family, r.dst, what);
    argv.push('to', prefix(r.dst, r.family, what));
  }
  argv.push('lookup', table(r.table, what, true), ...proto);
  // `ip rule` takes its family from -4/-6 only, never from the address: iproute2 6.1 sends
  // `rule add from 2001:db8::5/128 …` as IPv4 and the kernel answers "Invalid source address"
  // (checked here and on Debian's 6.1 kernel in the VM). Every IPv6 rule runs under `ip -6`.
  return r.family === 'inet6' ? ['-6', ...argv] : argv;
}

export function renderStep(step: Step): RenderedStep {
  switch (step.kind) {
    case 'vrf-create':
      return {
        kind: 'ip',
        argv: [
          'link',
          'add',
          'name',
          vrfName(step.name),
          'type',
          'vrf',
          'table',
          table(step.table, `vrf ${step.name}`, false),
        ],
      };
    case 'vrf-replace':
      table(step.toTable, `vrf ${step.name}`, false);
      return { kind: 'ip', argv: ['link', 'del', 'dev', vrfName(step.name)] };
    case 'vrf-delete':
      return { kind: 'ip', argv: ['link', 'del', 'dev', vrfName(step.name)] };
    case 'link-up':
      return { kind: 'ip', argv: ['link', 'set', 'dev', ifName(step.dev), 'up'] };
    case 'link-down':
      return { kind: 'ip', argv: ['link', 'set', 'dev', ifName(step.dev), 'down'] };
    case 'enslave':
      return { kind: 'ip', argv: ['link', 'set', 'dev', ifName(step.dev), 'master', vrfName(step.vrf)] };
    case 'release':
      vrfName(step.vrf);
      return { kind: 'ip', argv: ['link', 'set', 'dev', ifName(step.dev), 'nomaster'] };
    case 'route-add':
      return { kind: 'ip', argv: routeArgv('replace', step.route) };
    case 'route-del':
      return { kind: 'ip', argv: routeArgv('del', step.route) };
    case 'rule-add':
      return { kind: 'ip', argv: ruleArgv('add', step.rule) };
    case 'rule-del':
      return { kind: 'ip', argv: ruleArgv('del', step.rule) };
    case 'sysctl':
      if (!OWNED_SYSCTLS.includes(step.key)) throw new RenderError(`sysctl ${step.key} is not one vrf-host manages`);
      if (!/^-?[0-9]{1,10}$/.test(step.value))
        throw new RenderError(`sysctl ${step.key}: invalid value ${JSON.stringify(step.value)}`);
      return { kind: 'sysctl', key: step.key, value: step.value };
    case 'networkd-write':
      return { kind: 'file', path: networkdPath(step.path), content: step.content };
    case 'networkd-remove':
      return { kind: 'file', path: networkdPath(step.path), content: null };
  }
}

/** Only the files vrf-host gives systemd-networkd (src/vrf/networkd/render.ts), never anything else. */
function networkdPath(p: string): string {
  const problem = networkdPathProblem(p);
  if (problem !== null) throw new RenderError(`networkd file: ${problem}`);
  return p;
}

/** The human command of a step, e.g. `ip link add name public type vrf table 1001`. */
export function renderCommand(step: Step): string {
  const r = renderStep(step);
  if (r.kind === 'sysctl') return `sysctl -w ${r.key}=${r.value}`;
  if (r.kind === 'file') return r.content === null ? `rm /${r.path}` : `write /${r.path}`;
  return `ip ${r.argv.join(' ')}`;
}
