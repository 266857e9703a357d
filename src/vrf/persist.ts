/**
 * Everything vrf-host keeps on disk, under an injectable root:
 *   /etc/sysctl.d/60-vrf-host.conf          the sysctls vrf-host sets
 *   /etc/iproute2/rt_tables.d/vrf-host.conf `ID NAME` per VRF table
 *   /var/lib/vrf-host/state.json            units, application, last desired state, the Ledger
 * Every file is written atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. A corrupt state file is an error that
 * says so, never a silent reset (teardown needs what it remembers).
 */
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { readFile } from './files.js';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { type DeepReadonly, desiredStateSchema, ledgerSchema, ledgerV1Schema } from './schema.js';
import { ledgerFromV1 } from './upgrade.js';
import type { Ledger, PlacedService } from './types.js';
import { EMPTY_LEDGER, FAMILIES } from './types.js';
import { VrfError } from './errors.js';

export const PATHS = {
  sysctlConf: 'etc/sysctl.d/60-vrf-host.conf',
  rtTables: 'etc/iproute2/rt_tables.d/vrf-host.conf',
  state: 'var/lib/vrf-host/state.json',
  /** A state file teardown could not read whole, kept after it did what it could. */
  unreadState: 'var/lib/vrf-host/state.json.unread',
  stateDir: 'var/lib/vrf-host',
} as const;

export function under(root: string | undefined, rel: string): string {
  return join(root ?? '/', rel);
}

export class StateFileError extends VrfError {
  override name = 'StateFileError';
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

// ---------------------------------------------------------------------------
// Atomic files
// ---------------------------------------------------------------------------

/** Writes `content` to `path` atomically (temp file in the same dir + fsync + rename). */
export async function atomicWrite(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(content);
    await fh.chmod(mode); // not subject to the umask
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/**
 * Writes `content` atomically only when the file differs (update-status converges every few
 * minutes; an unchanged host must not churn files); null removes the file.
 */
export async function writeIfChanged(path: string, content: string | Uint8Array | null, mode = 0o644): Promise<void> {
  if (content === null) {
    await removeFile(path);
    return;
  }
  const want =
    typeof content === 'string'
      ? Buffer.from(content)
      : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const old = await readFile(path).catch(() => null);
  if (old === null || !old.equals(want)) await atomicWrite(path, content, mode);
}

/** Removes a file; a missing file is fine. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

// ---------------------------------------------------------------------------
// Schemas (the state file is parsed input like any other)
// ---------------------------------------------------------------------------

/** The version this vrf-host writes. Every older version's file is read too (parseState). */
export const STATE_VERSION = 2;

/** What every version of state.json has held besides its version and its ledger. */
const stateFields = {
  /** The vrf-host application that owns this machine's VRFs (null: the standalone CLI). */
  application: z.string().nullable(),
  /** The units of that application on this machine; teardown happens when the last one leaves. */
  units: z.array(z.string()),
  /** The last desired state applied (or being applied): what the boot unit replays. */
  desired: desiredStateSchema.nullable(),
  /** True between the write-ahead save and the end of an apply (a crash leaves it true). */
  applying: z.boolean(),
  updated: z.string(),
};

/**
 * Version 1: every vrf-host up to the one whose ledger lists its rules. Its later releases added
 * optional fields (ledger.l3mdevRuleAdded, ledger.networkdFiles, a rule's protocol, the options
 * object, the no-gateway reason), which the shared schemas accept absent: one schema reads them all
 * (tests/fixtures/state has one file per shape).
 */
export const stateV1Schema = z.object({ version: z.literal(1), ...stateFields, ledger: ledgerV1Schema });

export const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  ...stateFields,
  /** What vrf-host created or migrated. While `applying`, a superset of both the old and the new ledger. */
  ledger: ledgerSchema,
});

/** Every version this vrf-host reads, told apart by `version`. */
const anyStateSchema = z.discriminatedUnion('version', [stateV1Schema, stateSchema]);
export const READABLE_VERSIONS: readonly number[] = anyStateSchema.options.map((o) => o.shape.version.value);

/** state.json, as parsed (the schema is the type). */
export type HostState = DeepReadonly<z.output<typeof stateSchema>>;

/** Any readable version's state as this version keeps it. */
function upgrade(s: DeepReadonly<z.output<typeof anyStateSchema>>): HostState {
  switch (s.version) {
    case 1:
      return { ...s, version: STATE_VERSION, ledger: ledgerFromV1(s.ledger, s.desired) };
    case STATE_VERSION:
      return s;
  }
}

export function emptyState(): HostState {
  return {
    version: STATE_VERSION,
    application: null,
    units: [],
    desired: null,
    ledger: EMPTY_LEDGER,
    applying: false,
    updated: new Date(0).toISOString(),
  };
}

/** What a corrupt state file's error ends with: teardown needs what the file remembers. */
export const NOT_GUESSING =
  'vrf-host will not guess what it created — repair it from a backup, or remove it after undoing the VRFs by hand';

/** Parses state.json text of any readable version; throws StateFileError naming the path and the field. */
export function parseState(text: string, path: string): HostState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(path, `${path} is corrupt (not JSON: ${(e as Error).message}); ${NOT_GUESSING}`, {
      cause: e,
    });
  }
  if (
    typeof raw === 'object' &&
    raw !== null &&
    'version' in raw &&
    (typeof raw.version !== 'number' || !READABLE_VERSIONS.includes(raw.version))
  ) {
    throw new StateFileError(
      path,
      `${path} has version ${JSON.stringify(raw.version)}; this vrf-host reads versions ${READABLE_VERSIONS.join(', ')}`,
    );
  }
  const r = anyStateSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : '(top level)';
    throw new StateFileError(path, `${path} is corrupt at ${where}: ${first?.message ?? 'invalid'}; ${NOT_GUESSING}`, {
      cause: r.error,
    });
  }
  return upgrade(r.data);
}

/** The state, or null when there is no state file. */
export async function readState(root?: string): Promise<HostState | null> {
  const path = under(root, PATHS.state);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateFileError(path, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseState(text, path);
}

export async function writeState(
  root: string | undefined,
  state: Omit<HostState, 'version' | 'updated'>,
): Promise<HostState> {
  const full: HostState = { version: STATE_VERSION, ...state, updated: new Date().toISOString() };
  // Validate what we write as strictly as what we read.
  const path = under(root, PATHS.state);
  parseState(JSON.stringify(full), path);
  await atomicWrite(path, JSON.stringify(full, null, 2) + '\n', 0o600);
  return full;
}

export async function removeState(root?: string): Promise<void> {
  await removeFile(under(root, PATHS.state));
}

// ---------------------------------------------------------------------------
// Ledger arithmetic
// ---------------------------------------------------------------------------

function uniqueBy<T>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const i of items) {
    const k = JSON.stringify(i, Object.keys(i as object).sort());
    if (!seen.has(k)) {
      seen.add(k);
      out.push(i);
    }
  }
  return out;
}

/** Either ledger's l3mdevRuleAdded families (the field only when there are some, as the planner writes it). */
function l3mdevUnion(before: Ledger, after: Ledger): Pick<Ledger, 'l3mdevRuleAdded'> {
  const fams = FAMILIES.filter(
    (f) => (before.l3mdevRuleAdded ?? []).includes(f) || (after.l3mdevRuleAdded ?? []).includes(f),
  );
  return fams.length > 0 ? { l3mdevRuleAdded: fams } : {};
}

/** The ledger field for these networkd files (sorted, once each; absent when there are none). */
export function networkdFilesOf(paths: readonly string[]): Pick<Ledger, 'networkdFiles'> {
  const all = [...new Set(paths)].sort();
  return all.length > 0 ? { networkdFiles: all } : {};
}

/**
 * The ledger with these service records (the field only when there are some: a ledger without
 * services is the one every earlier version wrote).
 */
export function withServices(ledger: Ledger, services: readonly PlacedService[]): Ledger {
  const { services: _old, ...rest } = ledger;
  return { ...rest, ...servicesField(services) };
}

const servicesField = (services: readonly PlacedService[]): Pick<Ledger, 'services'> =>
  services.length > 0 ? { services } : {};

/** Every unit either list places: `after`'s record, and `before`'s for a unit `after` no longer has. */
export function unionServices(
  before: readonly PlacedService[] = [],
  after: readonly PlacedService[] = [],
): PlacedService[] {
  const units = new Set(after.map((s) => s.unit));
  return [...after, ...before.filter((s) => !units.has(s.unit))];
}

/**
 * The write-ahead ledger: everything either ledger owns. Persisted before an
 * apply, so that a crash at any step still lets teardown find every VRF
 * (created or about to be deleted) and restore every migrated route and rule.
 * The earliest `sysctlsBefore` wins: it is the value before vrf-host.
 */
export function unionLedger(before: Ledger, after: Ledger): Ledger {
  return {
    vrfs: { ...before.vrfs, ...after.vrfs },
    migratedRoutes: uniqueBy([...before.migratedRoutes, ...after.migratedRoutes]),
    migratedRules: uniqueBy([...before.migratedRules, ...after.migratedRules]),
    localRuleMoved: before.localRuleMoved || after.localRuleMoved,
    sysctlsBefore: { ...after.sysctlsBefore, ...before.sysctlsBefore },
    ...l3mdevUnion(before, after),
    ...networkdFilesOf([...(before.networkdFiles ?? []), ...(after.networkdFiles ?? [])]),
    ownedRules: uniqueBy([...before.ownedRules, ...after.ownedRules]),
    ...servicesField(unionServices(before.services, after.services)),
  };
}

// ---------------------------------------------------------------------------
// rt_tables.d
// ---------------------------------------------------------------------------

/** `ID NAME` lines for /etc/iproute2/rt_tables.d/vrf-host.conf, or null when there are no VRFs. */
export function renderRtTables(vrfs: Readonly<Record<string, number>>): string | null {
  const entries = Object.entries(vrfs).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return null;
  for (const [name, id] of entries) {
    if (!/^[a-z0-9][a-z0-9-]{0,14}$/.test(name) || !Number.isInteger(id) || id <= 0) {
      throw new StateFileError(PATHS.rtTables, `refusing to write table entry ${JSON.stringify(name)}=${id}`);
    }
  }
  return (
    [
      '# Managed by vrf-host: one table per VRF. Removed when vrf-host is removed.',
      ...entries.map(([n, id]) => `${id} ${n}`),
    ].join('\n') + '\n'
  );
}

/** Writes (or removes, when empty) a managed file. */
export async function writeOrRemove(path: string, content: string | null): Promise<void> {
  if (content === null) await removeFile(path);
  else await atomicWrite(path, content);
}
