/** show-vrfs' look at forwarding and the packet filter (src/vrf/forwarding.ts, src/vrf/netfilter.ts). */
import { ZodError } from 'zod';
import {
  bindingDevices,
  type ForwardingFinding,
  forwardingFindings,
  forwardingText,
  readForwarding,
} from '../forwarding.js';
import { netfilterDump, NETFILTER_TOOLS, type ProcOptions } from '../ip.js';
import { namesInterface, type NetfilterRule, parseIptablesSave, parseNftRuleset } from '../netfilter.js';
import type { Bindings, DesiredState, ObservedHost } from '../types.js';

export interface FirewallRef {
  readonly rule: NetfilterRule;
  /** The VRF members it names by interface, and their VRF. */
  readonly members: readonly { readonly dev: string; readonly vrf: string }[];
}

export interface HostFilterShow {
  readonly forwarding: readonly ForwardingFinding[];
  /** DNAT/REDIRECT rules: the host forwards what they match. */
  readonly nat: readonly NetfilterRule[];
  readonly firewall: readonly FirewallRef[];
  /** Dumps that could not be read, with why (a tool not installed, a failure). */
  readonly unread: readonly string[];
}

/** Every rule of the host's packet filter, and the dumps it could not read. */
export async function readNetfilter(o: ProcOptions): Promise<{ rules: NetfilterRule[]; unread: string[] }> {
  const rules: NetfilterRule[] = [];
  const unread: string[] = [];
  let iptablesRead = false;
  for (const tool of NETFILTER_TOOLS) {
    const d = await netfilterDump(tool, o);
    if (!d.ok) {
      unread.push(`${tool}: ${d.stderr.split('\n')[0] || 'failed'}`);
      continue;
    }
    if (tool !== 'nft') {
      rules.push(...parseIptablesSave(d.stdout, tool));
      iptablesRead ||= tool === 'iptables-save';
      continue;
    }
    try {
      rules.push(...parseNftRuleset(d.stdout, iptablesRead));
    } catch (e) {
      if (!(e instanceof ZodError) && !(e instanceof SyntaxError)) throw e;
      unread.push(`nft: its JSON has another shape (${e.message.split('\n')[0]})`);
    }
  }
  return { rules, unread };
}

export async function hostFilter(
  o: ProcOptions & { readonly procRoot?: string },
  observed: ObservedHost,
  desired: DesiredState | null,
  bindings: Bindings | undefined,
  withNetfilter: boolean,
): Promise<HostFilterShow> {
  const own = bindingDevices(desired, bindings);
  const forwarding = forwardingFindings(observed, await readForwarding(o.procRoot), own);
  if (!withNetfilter) return { forwarding, nat: [], firewall: [], unread: [] };
  const { rules, unread } = await readNetfilter(o);
  const members = (desired?.vrfs ?? []).flatMap((v) => v.members.map((dev) => ({ dev, vrf: v.name })));
  const firewall = rules.flatMap((rule) => {
    const named = members.filter((m) => [...rule.iif, ...rule.oif].some((p) => namesInterface(p, m.dev)));
    return named.length > 0 ? [{ rule, members: named }] : [];
  });
  return { forwarding, nat: rules.filter((r) => r.nat), firewall, unread };
}

/** What forwards to local containers or pods: the forwarding families, then the NAT rules. */
export function forwardingLines(h: HostFilterShow): string[] {
  return [
    ...h.forwarding.map(forwardingText),
    ...h.nat.map((r) => `${r.tool} ${r.table} ${r.chain} forwards: ${r.text}`),
  ];
}

/** Packet-filter rules that name a member, and the dumps that could not be read. */
export function firewallLines(h: HostFilterShow): string[] {
  return [
    ...h.firewall.map((f) => {
      const named = f.members.map(
        (m) => `${m.dev} (in VRF ${m.vrf}: netfilter sees ${m.vrf} for its incoming traffic)`,
      );
      return `${f.rule.tool} ${f.rule.table} ${f.rule.chain} names ${named.join(', ')}: ${f.rule.text}`;
    }),
    ...h.unread.map((u) => `not read: ${u}`),
  ];
}

/** The lines show-vrfs' summary gets. */
export function hostFilterLines(h: HostFilterShow): string[] {
  return [...forwardingLines(h).map((l) => `forwarding: ${l}`), ...firewallLines(h).map((l) => `firewall: ${l}`)];
}
