/**
 * Address helpers on ipaddr.js. Every address and prefix in src/vrf goes through
 * these so that comparisons are on canonical strings: IPv4 dotted quad, IPv6
 * compressed lowercase (ipaddr.js `toString()`), prefixes `ADDR/LEN` with the
 * host bits cleared. No CIDR arithmetic is written by hand here: ipaddr.js does
 * the parsing, masking and matching.
 *
 * Strictness: IPv4 must be four decimal parts without leading zeros (ipaddr.js
 * would otherwise read `010.1.1.1` as octal and `10.1` as `10.0.0.1`), IPv6 may
 * not carry a zone id (`fe80::1%eth0`), prefix lengths are plain decimals.
 */
import ipaddr from 'ipaddr.js';
import type { Family } from './types.js';
import { VrfError } from './errors.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

export class AddrError extends VrfError {
  override name = 'AddrError';
}

const PREFIX_RE = /^(0|[1-9][0-9]{0,2})$/;

// Memo tables: derivation and planning compare the same few hundred addresses and
// prefixes against each other many thousands of times. Values are frozen plain data or
// ipaddr objects that never leave this module. Cleared when they grow large.
const MEMO_MAX = 100_000;
const ipMemo = new Map<string, IpAddress | null>();
const cidrMemo: Record<Family | 'any', Map<string, ParsedCidr | null>> = {
  any: new Map(),
  inet: new Map(),
  inet6: new Map(),
};

function memo<V>(m: Map<string, V>, k: string, f: () => V): V {
  const hit = m.get(k);
  if (hit !== undefined || m.has(k)) return hit as V;
  if (m.size >= MEMO_MAX) m.clear();
  const v = f();
  m.set(k, v);
  return v;
}

/** A parsed address shared inside this module (never handed out: ipaddr objects are mutable). */
function ipShared(s: string): IpAddress | null {
  return memo(ipMemo, s, () => parseIp(s));
}

/** Parse an IP address strictly; null when it is not one. */
export function parseIp(s: string): IpAddress | null {
  if (typeof s !== 'string' || s.length === 0 || s.length > 45) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s);
  if (s.includes(':') && !s.includes('%') && ipaddr.IPv6.isValid(s)) return ipaddr.IPv6.parse(s);
  return null;
}

export function isIp(s: string): boolean {
  return parseIp(s) !== null;
}

function familyOfParsed(ip: IpAddress): Family {
  return ip.kind() === 'ipv4' ? 'inet' : 'inet6';
}

/** The family of an address; throws AddrError when `s` is not an address. */
export function familyOf(s: string): Family {
  const ip = ipShared(s);
  if (!ip) throw new AddrError(`"${s}" is not an IP address`);
  return familyOfParsed(ip);
}

/** The family of an address, or null. */
export function tryFamilyOf(s: string): Family | null {
  const ip = ipShared(s);
  return ip ? familyOfParsed(ip) : null;
}

/** Canonical form of an address (IPv6 compressed, lowercase); throws AddrError. */
export function canonicalIp(s: string): string {
  const ip = ipShared(s);
  if (!ip) throw new AddrError(`"${s}" is not an IP address`);
  return ip.toString();
}

export function tryCanonicalIp(s: string): string | null {
  const ip = ipShared(s);
  return ip ? ip.toString() : null;
}

export interface ParsedCidr {
  readonly family: Family;
  /** Network address (host bits cleared), canonical. */
  readonly network: string;
  readonly prefixlen: number;
  /** `network/prefixlen`. */
  readonly cidr: string;
}

export function maxPrefix(family: Family): number {
  return family === 'inet' ? 32 : 128;
}

export function defaultCidr(family: Family): string {
  return family === 'inet' ? '0.0.0.0/0' : '::/0';
}

/**
 * Parse `ADDR/LEN` (host bits are cleared), a bare address (a host prefix, as
 * `ip route` prints them) or `default` (needs `family`). When `family` is given,
 * a prefix of the other family is rejected. Null when invalid.
 */
export function parseCidr(s: string, family?: Family): ParsedCidr | null {
  if (typeof s !== 'string') return null;
  return memo(cidrMemo[family ?? 'any'], s, () => parseCidrUncached(s, family));
}

function parseCidrUncached(s: string, family?: Family): ParsedCidr | null {
  if (s === 'default' || s === 'any' || s === 'all') {
    if (!family) return null;
    return { family, network: family === 'inet' ? '0.0.0.0' : '::', prefixlen: 0, cidr: defaultCidr(family) };
  }
  const slash = s.indexOf('/');
  const addrPart = slash < 0 ? s : s.slice(0, slash);
  const ip = parseIp(addrPart);
  if (!ip) return null;
  const fam = familyOfParsed(ip);
  if (family && fam !== family) return null;
  let prefixlen = maxPrefix(fam);
  if (slash >= 0) {
    const lenPart = s.slice(slash + 1);
    if (!PREFIX_RE.test(lenPart)) return null;
    prefixlen = Number(lenPart);
    if (prefixlen > maxPrefix(fam)) return null;
  }
  const text = `${ip.toString()}/${prefixlen}`;
  const net = fam === 'inet' ? ipaddr.IPv4.networkAddressFromCIDR(text) : ipaddr.IPv6.networkAddressFromCIDR(text);
  const network = net.toString();
  return Object.freeze({ family: fam, network, prefixlen, cidr: `${network}/${prefixlen}` });
}

/** Canonical CIDR (host bits cleared); throws AddrError. `default` needs a family. */
export function canonicalCidr(s: string, family?: Family): string {
  const p = parseCidr(s, family);
  if (!p) {
    if (s === 'default' && !family) throw new AddrError('"default" needs a family to become a prefix');
    throw new AddrError(`"${s}" is not ${family ? `an ${family === 'inet' ? 'IPv4' : 'IPv6'} ` : 'a '}prefix`);
  }
  return p.cidr;
}

export function tryCanonicalCidr(s: string, family?: Family): string | null {
  return parseCidr(s, family)?.cidr ?? null;
}

/** True when `s` is written as ADDR/LEN (not a bare address, not `default`) and is valid. */
export function isCidrNotation(s: string): boolean {
  return s.includes('/') && parseCidr(s) !== null;
}

/** The family of a prefix; throws AddrError. */
export function familyOfCidr(s: string): Family {
  const p = parseCidr(s);
  if (!p) throw new AddrError(`"${s}" is not a prefix`);
  return p.family;
}

/** True for 0.0.0.0/0 and ::/0 (in any spelling accepted by parseCidr, incl. `default`). */
export function isDefaultCidr(s: string): boolean {
  if (s === 'default') return true;
  const p = parseCidr(s);
  return p !== null && p.prefixlen === 0;
}

/** Does prefix `cidr` contain address `ip`? False for invalid input or mixed families. */
export function cidrContains(cidr: string, ip: string): boolean {
  const p = parseCidr(cidr);
  const a = ipShared(ip);
  if (!p || !a || familyOfParsed(a) !== p.family) return false;
  const net = ipShared(p.network);
  return net !== null && a.match(net, p.prefixlen);
}

/** Is prefix `inner` inside (or equal to) prefix `outer`? False for invalid input or mixed families. */
export function cidrWithin(inner: string, outer: string): boolean {
  const i = parseCidr(inner);
  const o = parseCidr(outer);
  if (!i || !o || i.family !== o.family || i.prefixlen < o.prefixlen) return false;
  const a = ipShared(i.network);
  const b = ipShared(o.network);
  return a !== null && b !== null && a.match(b, o.prefixlen);
}

/** The subnet (canonical CIDR) of `address/prefixlen`; throws AddrError. */
export function subnetOf(address: string, prefixlen: number): string {
  if (!Number.isInteger(prefixlen) || prefixlen < 0) throw new AddrError(`invalid prefix length ${prefixlen}`);
  return canonicalCidr(`${address}/${prefixlen}`);
}

/** Do two addresses (or prefixes) belong to the same family? False if either is invalid. */
export function sameFamily(a: string, b: string): boolean {
  const fa = tryFamilyOf(a) ?? parseCidr(a)?.family ?? null;
  const fb = tryFamilyOf(b) ?? parseCidr(b)?.family ?? null;
  return fa !== null && fa === fb;
}

/** Equality on canonical forms. */
export function sameIp(a: string, b: string): boolean {
  const x = tryCanonicalIp(a);
  return x !== null && x === tryCanonicalIp(b);
}

/** A total order for deterministic output: family, then numeric address. */
export function compareIp(a: string, b: string): number {
  const x = ipShared(a);
  const y = ipShared(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  const fx = x.kind() === 'ipv4' ? 0 : 1;
  const fy = y.kind() === 'ipv4' ? 0 : 1;
  if (fx !== fy) return fx - fy;
  const bx = x.toByteArray();
  const by = y.toByteArray();
  for (let i = 0; i < bx.length; i++) {
    const d = (bx[i] ?? 0) - (by[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A fixed set of prefixes to test addresses against (parsed once). */
export class PrefixSet {
  private readonly nets: ReadonlyArray<readonly [IpAddress, number]>;
  constructor(cidrs: Iterable<string>) {
    const nets: Array<readonly [IpAddress, number]> = [];
    for (const c of cidrs) {
      const p = parseCidr(c);
      const n = p ? ipShared(p.network) : null;
      if (p && n) nets.push([n, p.prefixlen]);
    }
    this.nets = nets;
  }
  get size(): number {
    return this.nets.length;
  }
  /** Is `ip` inside one of the prefixes (same family)? */
  contains(ip: string): boolean {
    const a = ipShared(ip);
    if (!a) return false;
    const k = a.kind();
    for (const [n, len] of this.nets) if (n.kind() === k && a.match(n, len)) return true;
    return false;
  }
}
