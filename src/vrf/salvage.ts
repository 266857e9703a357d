/**
 * What teardown can still use of a state file this vrf-host cannot read whole: one a later
 * version wrote (a downgrade), or one with a damaged field. Converging on such a file stays
 * refused (it would guess); tearing down does its best: each ledger field is read on its own
 * (each list entry on its own), VRFs are also found through vrf-host's own rt_tables.d file and
 * the kernel, and every field it could not read is named with what is therefore not undone.
 */
import { z } from 'zod';
import { emptyState, type HostState } from './persist.js';
import { ledgerSchema, ownedRuleSchema, placedServiceSchema, routeSchema, ruleSchema } from './schema.js';
import type { Ledger, ObservedHost, Rule, Warning } from './types.js';
import { TABLE } from './types.js';
import { ownedKeyOfRule, ruleKey, targetOfRule } from './plan/keys.js';

export interface Salvaged {
  /** The state as far as it could be read (desired is null: a teardown replays nothing). */
  readonly state: HostState;
  /** Each field that could not be read, with what is therefore left as it is. */
  readonly unread: readonly Warning[];
}

/** What is left undone when a ledger field cannot be read. */
const LEFT: Readonly<Record<string, string>> = {
  units: 'the machine is torn down for the leaving unit, as if it were the last',
  'ledger.vrfs': "VRFs are found from vrf-host's rt_tables.d file and the kernel only",
  'ledger.migratedRoutes': 'routes vrf-host moved into its VRFs are not given back to their tables',
  'ledger.migratedRules': 'source rules vrf-host moved aside (MAAS source routing) are not given back',
  'ledger.localRuleMoved': 'the local lookup is put back at priority 0 when it is not there',
  'ledger.sysctlsBefore': 'the sysctls stay as they are (their values before vrf-host are unknown)',
  'ledger.l3mdevRuleAdded': 'the l3mdev rule stays',
  'ledger.networkdFiles': "vrf-host's networkd files are found by their names only",
  'ledger.ownedRules': 'rules are found by the tables of the VRFs being deleted only',
  'ledger.services': 'the units it names stay in their VRF: remove their drop-in (50-vrf-host-vrf.conf) by hand',
};

function field<T>(schema: z.ZodType<T>, value: unknown, name: string, unread: Warning[], fallback: T): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  unread.push({ field: name, message: LEFT[name] ?? 'not undone' });
  return fallback;
}

/** The entries of a list that parse; a list with any other entry is named as partly read. */
function entries<T>(schema: z.ZodType<T>, value: unknown, name: string, unread: Warning[]): T[] {
  const list = z.array(z.unknown()).safeParse(value).data;
  const ok = (list ?? []).flatMap((v) => {
    const r = schema.safeParse(v);
    return r.success ? [r.data] : [];
  });
  if (list === undefined || ok.length < list.length) {
    const what = list === undefined ? 'not a list' : `${list.length - ok.length} of ${list.length} entries unreadable`;
    unread.push({ field: name, message: `${what}: ${LEFT[name] ?? 'not undone'}` });
  }
  return ok;
}

const objectSchema = z.record(z.string(), z.unknown());
const S = ledgerSchema.shape;

/** Reads what it can of a state file's text (it does not need to parse as any version). */
export function salvageState(text: string): Salvaged {
  const unread: Warning[] = [];
  let raw: unknown = null;
  try {
    raw = JSON.parse(text);
  } catch {
    unread.push({ field: '(the file)', message: 'not JSON: nothing in it could be read' });
  }
  const top = objectSchema.safeParse(raw).data ?? {};
  const l = objectSchema.safeParse(top.ledger).data ?? {};
  // Optional fields: absent is how older files say "none"; present but unreadable is named.
  const l3mdev =
    l.l3mdevRuleAdded === undefined
      ? undefined
      : field(S.l3mdevRuleAdded, l.l3mdevRuleAdded, 'ledger.l3mdevRuleAdded', unread, undefined);
  const networkd =
    l.networkdFiles === undefined
      ? undefined
      : field(S.networkdFiles, l.networkdFiles, 'ledger.networkdFiles', unread, undefined);
  const ledger: Ledger = {
    vrfs: field(S.vrfs, l.vrfs, 'ledger.vrfs', unread, {}),
    migratedRoutes: entries(routeSchema, l.migratedRoutes, 'ledger.migratedRoutes', unread),
    migratedRules: entries(ruleSchema, l.migratedRules, 'ledger.migratedRules', unread),
    // Unknown: put the local lookup back at 0 if it is missing there (never harmful).
    localRuleMoved: field(S.localRuleMoved, l.localRuleMoved, 'ledger.localRuleMoved', unread, true),
    sysctlsBefore: field(S.sysctlsBefore, l.sysctlsBefore, 'ledger.sysctlsBefore', unread, {}),
    ...(l3mdev === undefined ? {} : { l3mdevRuleAdded: l3mdev }),
    ...(networkd === undefined ? {} : { networkdFiles: networkd }),
    // Version 1 had no such field; anything else that lacks it has lost it.
    ownedRules: 'ownedRules' in l ? entries(ownedRuleSchema, l.ownedRules, 'ledger.ownedRules', unread) : [],
    // Absent in files written before services existed: none.
    ...(l.services === undefined
      ? {}
      : { services: entries(placedServiceSchema, l.services, 'ledger.services', unread) }),
  };
  const units = field(z.array(z.string()), top.units, 'units', unread, []);
  const application = z.string().nullable().safeParse(top.application).data ?? null;
  return { state: { ...emptyState(), application, units, ledger }, unread };
}

/**
 * The salvaged ledger completed from the kernel: each VRF named in vrf-host's rt_tables.d file
 * (`ID NAME` lines it writes for every VRF it makes) that is a VRF on the host with that table,
 * and every rule of a shape vrf-host adds that looks up one of those tables (nothing else does:
 * the tables are vrf-host's), or that looks up the local table from an address of a member of
 * one of those VRFs (the delivery rule vrf-host adds for each, plan/rules.ts).
 */
export function completeFromKernel(ledger: Ledger, observed: ObservedHost, rtTables: string | null): Ledger {
  const vrfs: Record<string, number> = { ...ledger.vrfs };
  for (const line of (rtTables ?? '').split('\n')) {
    const m = /^\s*(\d+)\s+([a-z0-9][a-z0-9-]{0,14})\s*$/.exec(line);
    if (!m) continue;
    const [, id, name] = m;
    const table = Number(id);
    if (name !== undefined && observed.links.some((k) => k.name === name && k.kind === 'vrf' && k.vrfTable === table))
      vrfs[name] = table;
  }
  const tables = new Set(Object.values(vrfs));
  const known = new Set(
    ledger.ownedRules.map((r) => ruleKey(r.family, r.priority, r.src ?? null, r.table, r.dst ?? null)),
  );
  const ownedRules = [...ledger.ownedRules];
  const memberAddrs = new Set(
    observed.addrs
      .filter((a) => {
        const master = observed.links.find((l) => l.name === a.dev)?.master ?? null;
        return master !== null && vrfs[master] !== undefined;
      })
      .map((a) => `${a.address}/${a.family === 'inet' ? 32 : 128}`),
  );
  const ours = (r: Rule): boolean =>
    r.table !== null &&
    (tables.has(r.table) || (r.table === TABLE.local && r.src !== null && r.dst === null && memberAddrs.has(r.src)));
  for (const r of observed.rules) {
    const key = ownedKeyOfRule(r);
    if (key === null || r.table === null || !ours(r) || known.has(key)) continue;
    known.add(key);
    const t = targetOfRule(r);
    ownedRules.push({
      family: t.family,
      priority: t.priority,
      ...(t.src === undefined ? {} : { src: t.src }),
      ...(t.dst === undefined ? {} : { dst: t.dst }),
      table: t.table,
    });
  }
  return { ...ledger, vrfs, ownedRules };
}
