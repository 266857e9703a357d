/**
 * Gateways declared in netplan files (pure: the caller reads /etc/netplan).
 *
 * What counts: under network.{ethernets,bonds,bridges,vlans}.<id>, `gateway4` /
 * `gateway6`, and `routes` entries to `default`, `0.0.0.0/0` or `::/0`. A device
 * matches a member by its netplan id or its `set-name`. Matching through
 * `match:` (MAC address, driver, globs) is out of scope: such a stanza is only
 * found when its id or set-name is the kernel name (as MAAS and cloud-init
 * write them). Files are read in lexical order and a later file overrides an
 * earlier one for the same device and family, as netplan merges them.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { parseIp } from './addr.js';
import type { Family, Warning } from './types.js';

export const NETPLAN_SECTIONS = ['ethernets', 'bonds', 'bridges', 'vlans'] as const;

export interface NetplanGateway {
  /** Path as given by the caller, made absolute under /etc/netplan. */
  readonly file: string;
  readonly section: (typeof NETPLAN_SECTIONS)[number];
  /** The netplan id (the key under the section). */
  readonly id: string;
  readonly setName: string | null;
  readonly family: Family;
  readonly address: string;
  /** Where in the file, e.g. `ethernets.ens4.gateway4` or `bonds.bond0.routes[1]`. */
  readonly where: string;
  /** A `table:` on the route (MAAS source routing), null for the main table. */
  readonly table: number | null;
  readonly metric: number | null;
}

const RouteSchema = z.looseObject({
  to: z.union([z.string(), z.number()]).optional(),
  via: z.string().optional(),
  table: z.number().int().nonnegative().optional(),
  metric: z.number().int().nonnegative().optional(),
});

const DeviceSchema = z.looseObject({
  gateway4: z.string().optional(),
  gateway6: z.string().optional(),
  'set-name': z.string().optional(),
  routes: z.array(z.unknown()).optional(),
});

const FileSchema = z.looseObject({
  network: z
    .looseObject(Object.fromEntries(NETPLAN_SECTIONS.map((s) => [s, z.record(z.string(), z.unknown()).nullish()])))
    .nullish(),
});

const DEFAULT_TO: Readonly<Record<string, Family | null>> = { default: null, '0.0.0.0/0': 'inet', '::/0': 'inet6' };

export function netplanPath(name: string): string {
  return name.startsWith('/') ? name : `/etc/netplan/${name}`;
}

export interface NetplanParse {
  readonly gateways: readonly NetplanGateway[];
  readonly warnings: readonly Warning[];
}

/** Every gateway any netplan file declares, in file order (lexical), then document order. */
export function parseNetplanGateways(files: Readonly<Record<string, string>>): NetplanParse {
  const gateways: NetplanGateway[] = [];
  const warnings: Warning[] = [];
  for (const name of Object.keys(files).sort()) {
    const file = netplanPath(name);
    const warn = (message: string): void => {
      warnings.push({ field: 'netplan', message: `${file}: ${message}` });
    };
    const doc = YAML.parseDocument(files[name] ?? '', { prettyErrors: true });
    const err = doc.errors[0];
    if (err) {
      warn(`invalid YAML at line ${err.linePos?.[0]?.line ?? '?'}; file ignored for gateways`);
      continue;
    }
    const parsed = FileSchema.safeParse(doc.toJS() ?? {});
    if (!parsed.success) {
      warn('is not a netplan document; file ignored for gateways');
      continue;
    }
    const network = parsed.data.network;
    if (!network) continue;
    for (const section of NETPLAN_SECTIONS) {
      const devs = network[section];
      if (!devs) continue;
      for (const id of Object.keys(devs)) {
        const dev = DeviceSchema.safeParse(devs[id] ?? {});
        if (!dev.success) {
          warn(`${section}.${id} is not a device mapping; ignored`);
          continue;
        }
        const d = dev.data;
        const setName = d['set-name'] ?? null;
        const push = (
          family: Family,
          raw: string,
          where: string,
          table: number | null,
          metric: number | null,
        ): void => {
          const ip = parseIp(raw);
          if (!ip) {
            warn(`${where}: "${raw}" is not an IP address; ignored`);
            return;
          }
          const fam: Family = ip.kind() === 'ipv4' ? 'inet' : 'inet6';
          if (fam !== family) {
            warn(`${where}: ${raw} is not ${family === 'inet' ? 'IPv4' : 'IPv6'}; ignored`);
            return;
          }
          gateways.push({ file, section, id, setName, family, address: ip.toString(), where, table, metric });
        };
        if (d.gateway4 !== undefined) push('inet', d.gateway4, `${section}.${id}.gateway4`, null, null);
        if (d.gateway6 !== undefined) push('inet6', d.gateway6, `${section}.${id}.gateway6`, null, null);
        (d.routes ?? []).forEach((r, i) => {
          const route = RouteSchema.safeParse(r);
          const where = `${section}.${id}.routes[${i}]`;
          if (!route.success) {
            warn(`${where} is not a route mapping; ignored`);
            return;
          }
          const to = route.data.to === undefined ? undefined : String(route.data.to);
          if (to === undefined || !(to in DEFAULT_TO) || route.data.via === undefined) return;
          const via = parseIp(route.data.via);
          const declared = DEFAULT_TO[to] ?? null;
          const family: Family = declared ?? (via?.kind() === 'ipv6' ? 'inet6' : 'inet');
          push(family, route.data.via, where, route.data.table ?? null, route.data.metric ?? null);
        });
      }
    }
  }
  return { gateways, warnings };
}

/**
 * The netplan gateway for one of `members` and `family`: the last file wins
 * (netplan's merge order); within a file a main-table declaration wins over a
 * `table:` route, then the lowest metric, then document order.
 */
export function netplanGatewayFor(
  all: readonly NetplanGateway[],
  members: readonly string[],
  family: Family,
): NetplanGateway[] {
  const hits = all.filter(
    (g) => g.family === family && (members.includes(g.id) || (g.setName !== null && members.includes(g.setName))),
  );
  const files = [...new Set(hits.map((g) => g.file))].sort();
  const last = files[files.length - 1];
  const inLast = hits.filter((g) => g.file === last);
  return inLast
    .map((g, i) => ({ g, i }))
    .sort((a, b) => {
      const ta = a.g.table === null ? 0 : 1;
      const tb = b.g.table === null ? 0 : 1;
      if (ta !== tb) return ta - tb;
      const ma = a.g.metric ?? 0;
      const mb = b.g.metric ?? 0;
      if (ma !== mb) return ma - mb;
      return a.i - b.i;
    })
    .map((x) => x.g);
}
