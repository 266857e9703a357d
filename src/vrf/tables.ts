/**
 * Routing-table ids for the VRFs. Never 0/253/254/255, never a table the host
 * uses for routes or rules that vrf-host does not own (MAAS writes tables 1..N
 * selected by `from SUBNET lookup N` rules at pref 100: those are foreign),
 * auto ids stable through the ledger.
 */
import { RESERVED_TABLES, type Ledger, type ObservedHost, type Problem } from './types.js';

/** Tables vrf-host owns: the ledger's VRF tables. */
export function ownedTables(ledger: Ledger): Set<number> {
  return new Set(Object.values(ledger.vrfs));
}

/**
 * Tables in use on the host by something other than vrf-host: every table that
 * holds a route or is named by a rule (observed or migrated by us, since a
 * migrated MAAS rule still names its table), and every VRF link vrf-host did
 * not create; minus the reserved ids (those are refused anyway) and the
 * ledger's own tables.
 */
export function foreignTables(observed: ObservedHost, ledger: Ledger): Set<number> {
  const owned = ownedTables(ledger);
  const out = new Set<number>();
  const add = (t: number | null): void => {
    if (t !== null && !owned.has(t) && !RESERVED_TABLES.includes(t)) out.add(t);
  };
  for (const r of observed.routes) add(r.table);
  for (const r of ledger.migratedRoutes) add(r.table);
  for (const r of observed.rules) add(r.table);
  for (const r of ledger.migratedRules) add(r.table);
  for (const l of observed.links) {
    if (l.kind === 'vrf' && ledger.vrfs[l.name] === undefined) add(l.vrfTable);
  }
  return out;
}

export interface TableRequest {
  readonly vrf: string;
  /** Table set in config (explicit vrfs mode). */
  readonly configured?: number;
  /** Problem field for the configured table, e.g. `vrfs: storacc.table`. */
  readonly field: string;
}

export interface TableAssignment {
  readonly table: number;
  readonly source: 'config' | 'persisted' | 'auto';
}

export interface TableResult {
  readonly tables: ReadonlyMap<string, TableAssignment>;
  readonly problems: readonly Problem[];
}

/**
 * Assign a table to each VRF: a configured id is validated; otherwise the
 * ledger's id is kept (never renumbered); otherwise the lowest id in `range`
 * that is neither reserved, foreign, taken by another VRF here, nor held in the
 * ledger by another VRF (it may still exist until the plan removes it).
 */
export function assignTables(
  requests: readonly TableRequest[],
  range: { readonly min: number; readonly max: number },
  observed: ObservedHost,
  ledger: Ledger,
): TableResult {
  const foreign = foreignTables(observed, ledger);
  const problems: Problem[] = [];
  const tables = new Map<string, TableAssignment>();
  const taken = new Map<number, string>();
  const sorted = [...requests].sort((a, b) => (a.vrf < b.vrf ? -1 : a.vrf > b.vrf ? 1 : 0));

  const claim = (vrf: string, table: number, source: TableAssignment['source'], field: string): void => {
    const other = taken.get(table);
    if (other !== undefined) {
      problems.push({ field, message: `${table} is already the table of ${other}` });
      return;
    }
    taken.set(table, vrf);
    tables.set(vrf, { table, source });
  };

  // 1. Configured ids.
  for (const r of sorted) {
    if (r.configured === undefined) continue;
    const t = r.configured;
    if (RESERVED_TABLES.includes(t)) problems.push({ field: r.field, message: `${t} is reserved` });
    else if (foreign.has(t))
      problems.push({
        field: r.field,
        message: `${t} is in use on this host by routes or rules that vrf-host does not own`,
      });
    else claim(r.vrf, t, 'config', r.field);
  }
  // 2. Persisted ids.
  for (const r of sorted) {
    if (r.configured !== undefined) continue;
    const t = ledger.vrfs[r.vrf];
    if (t === undefined) continue;
    claim(r.vrf, t, 'persisted', r.field);
  }
  // 3. New ids: the lowest free one.
  const ledgerHeld = ownedTables(ledger);
  let next = range.min;
  for (const r of sorted) {
    if (tables.has(r.vrf) || r.configured !== undefined || ledger.vrfs[r.vrf] !== undefined) continue;
    while (
      next <= range.max &&
      (RESERVED_TABLES.includes(next) || foreign.has(next) || taken.has(next) || ledgerHeld.has(next))
    ) {
      next++;
    }
    if (next > range.max) {
      problems.push({ field: 'table-range', message: `no free table in ${range.min}-${range.max} for ${r.vrf}` });
      continue;
    }
    claim(r.vrf, next, 'auto', 'table-range');
    next++;
  }
  return { tables, problems };
}
