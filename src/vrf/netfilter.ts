/**
 * The host's packet filter as show-vrfs reports it: the rules that name a VRF member by
 * interface (`-i bond0`, `iifname "bond0"`), whose meaning changes once the member is in a VRF
 * (incoming traffic of a member shows the VRF device to netfilter's INPUT and FORWARD hooks), and
 * the DNAT/REDIRECT rules that forward traffic to local containers or pods. Pure parsers of
 * `iptables-save`/`ip6tables-save` text and `nft -j list ruleset` JSON (zod); the dumps run only
 * in show-vrfs (src/vrf/ip.ts netfilterDump), never on a hook's path.
 */
import { z } from 'zod';
import type { NetfilterTool } from './ip.js';

export interface NetfilterRule {
  readonly tool: NetfilterTool;
  /** `nat`, `filter`, … (nft: `FAMILY TABLE`). */
  readonly table: string;
  readonly chain: string;
  /** The rule as the tool prints it (nft: its matches and verdict, summarised). */
  readonly text: string;
  /** Interface names (or iptables `eth+` prefixes) it matches incoming (`-i`) and outgoing (`-o`). */
  readonly iif: readonly string[];
  readonly oif: readonly string[];
  /** It rewrites the destination (DNAT, REDIRECT): the host forwards what it matches. */
  readonly nat: boolean;
}

/** An interface name as iptables and nft print it (`+` / `*`: a prefix). */
const ifname = z.string().regex(/^[^\s/"]{1,15}[+*]?$/);

const IN = new Set(['-i', '--in-interface']);
const OUT = new Set(['-o', '--out-interface']);

/** `iptables-save` / `ip6tables-save` text → the rules, with the table each is in. */
export function parseIptablesSave(text: string, tool: NetfilterTool): NetfilterRule[] {
  const out: NetfilterRule[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (!line.startsWith('-A ')) continue;
    const words = line.trim().split(/\s+/);
    const chain = words[1] ?? '';
    const iif: string[] = [];
    const oif: string[] = [];
    let nat = false;
    words.forEach((w, i) => {
      const next = ifname.safeParse(words[i + 1]);
      if (IN.has(w) && next.success) iif.push(next.data);
      if (OUT.has(w) && next.success) oif.push(next.data);
      if ((w === '-j' || w === '--jump') && NAT_TARGETS.has(words[i + 1] ?? '')) nat = true;
    });
    out.push({ tool, table, chain, text: line.trim(), iif, oif, nat });
  }
  return out;
}

const nftMatch = z.object({
  match: z.object({
    op: z.string().optional(),
    left: z.object({ meta: z.object({ key: z.string() }) }),
    right: z.union([z.string(), z.object({ set: z.array(z.unknown()) })]),
  }),
});
const nftRule = z.object({
  rule: z.object({
    family: z.string(),
    table: z.string(),
    chain: z.string(),
    expr: z.array(z.record(z.string(), z.unknown())),
  }),
});
const nftRuleset = z.object({ nftables: z.array(z.unknown()) });
/** An iptables target iptables-nft could not translate (`-j DNAT` shows as one). */
const nftXt = z.object({ xt: z.object({ type: z.string(), name: z.string() }) });
const NAT_TARGETS = new Set(['DNAT', 'REDIRECT']);

/** The tables iptables-nft keeps its rules in: iptables-save already lists them. */
const XTABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * `nft -j list ruleset` → the rules. With `skipXtables`, the ip/ip6 tables iptables-nft made
 * (already read through iptables-save) are left out. Throws a ZodError on JSON of another shape.
 */
export function parseNftRuleset(json: string, skipXtables: boolean): NetfilterRule[] {
  const out: NetfilterRule[] = [];
  for (const item of nftRuleset.parse(JSON.parse(json)).nftables) {
    const r = nftRule.safeParse(item);
    if (!r.success) continue;
    const { family, table, chain, expr } = r.data.rule;
    if (skipXtables && (family === 'ip' || family === 'ip6') && XTABLES.has(table)) continue;
    const iif: string[] = [];
    const oif: string[] = [];
    const words: string[] = [];
    let nat = false;
    for (const e of expr) {
      const m = nftMatch.safeParse(e);
      if (m.success) {
        const { key } = m.data.match.left.meta;
        const right = m.data.match.right;
        const names = (typeof right === 'string' ? [right] : right.set).flatMap((v) => {
          const n = ifname.safeParse(v);
          return n.success ? [n.data] : [];
        });
        if (key === 'iifname' || key === 'iif') iif.push(...names);
        if (key === 'oifname' || key === 'oif') oif.push(...names);
        words.push(`${key} ${m.data.match.op === '!=' ? '!= ' : ''}${names.join(',')}`);
        continue;
      }
      const xt = nftXt.safeParse(e);
      if (xt.success && xt.data.xt.type === 'target' && NAT_TARGETS.has(xt.data.xt.name)) nat = true;
      const verdict = Object.keys(e)[0];
      if (verdict === 'dnat' || verdict === 'redirect') nat = true;
      if (verdict !== undefined && verdict !== 'match' && verdict !== 'counter') words.push(verdict);
    }
    out.push({ tool: 'nft', table: `${family} ${table}`, chain, text: words.join(' '), iif, oif, nat });
  }
  return out;
}

/** Does a rule's interface name (an iptables `eth+` or nft `eth*` prefix included) match `dev`? */
export function namesInterface(pattern: string, dev: string): boolean {
  return pattern.endsWith('+') || pattern.endsWith('*') ? dev.startsWith(pattern.slice(0, -1)) : pattern === dev;
}
