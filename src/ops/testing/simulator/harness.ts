/**
 * The out-of-process harness: runs a built charm's `dispatch` as Juju runs it, with the
 * hook-tool simulator's tools on PATH.
 *
 *   const sim = await createSimulator({ state: { config: {...}, networks: {...} } });
 *   const run = await runDispatch('build/charm', 'hooks/install', sim);
 *   run.exitCode; run.record.statusHistory; run.record.logs; run.record.calls;
 *   await sim.cleanup();
 *
 * `createSimulator({ fast: true })` installs generated POSIX sh tools instead (fast.ts):
 * query answers pre-rendered with the Node tool's logic, recording calls journalled raw
 * (raw.ts) and replayed through that logic by read(); everything else falls back to Node.
 *
 * scripts/build.mjs also bundles this file to build/simulator/harness.mjs (next to
 * build/simulator/hook-tool.mjs), so plain node scripts can use it without TypeScript.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import * as z from 'zod/mini';
import { clearRaw, findCat, renderFastTools, shQuote, type FastLayout } from './fast.js';
import { readRawJournal, replayRaw } from './raw.js';
import {
  foldJournal,
  HOOK_TOOLS,
  parseJournal,
  SimStateSchema,
  type HookToolName,
  type JournalEntry,
  type SimRecord,
  type SimState,
  type SimStateInput,
} from './state.js';
import { OpsError } from '../../errors.js';

export { readZip, extractZip, unpackCharm, type ZipEntryInfo } from './charmfile.js';
export { HOOK_TOOLS, type HookToolName, type SimRecord, type SimState, type SimStateInput } from './state.js';

export class SimulatorError extends OpsError {
  override readonly name = 'SimulatorError';
}

export interface SimulatorOptions {
  /** What Juju knows; every field has a default (see state.ts). */
  readonly state?: SimStateInput;
  /** The tools to put on PATH (default: all of HOOK_TOOLS). */
  readonly tools?: readonly HookToolName[];
  /** Tools to leave off PATH, to simulate a missing hook tool. */
  readonly omit?: readonly HookToolName[];
  /** Directory to work in (created if needed); default a fresh temporary directory. */
  readonly dir?: string;
  /** The node binary the tool wrappers run (absolute path); default this process's. */
  readonly node?: string;
  /** The bundled hook tool; default: found or built automatically (see hookToolPath). */
  readonly hookTool?: string;
  /**
   * Fast mode: POSIX sh tools that start no Node for the calls the ops port makes (query
   * answers pre-rendered from the state, recording calls journalled raw and replayed by
   * read()); anything else falls back to the Node tool. Same records as the default mode.
   */
  readonly fast?: boolean;
  /**
   * Fast mode: binding names to pre-render network-get answers for besides the state's
   * networks (runDispatch adds the charm's metadata.yaml bindings and endpoints itself).
   */
  readonly bindings?: readonly string[];
  /** Fast mode: relation endpoints to pre-render relation-ids for besides the state's relations. */
  readonly endpoints?: readonly string[];
}

export interface SimulatorStats {
  /** Calls answered by the sh tools without Node (fast mode). */
  readonly fast: number;
  /** Calls answered by the Node tool (every call in the default mode). */
  readonly node: number;
}

export interface Simulator {
  readonly dir: string;
  /** Holds one executable per hook tool, named after it. */
  readonly binDir: string;
  readonly statePath: string;
  /** The JSON journal (fast mode: the calls recorded before the last state change or clearJournal). */
  readonly journalPath: string;
  /** Fast mode's raw journal directory (raw.ts), or null. */
  readonly rawDir: string | null;
  readonly fast: boolean;
  /** OPS_SIM_STATE, OPS_SIM_JOURNAL, (fast) OPS_SIM_RAW and PATH (binDir first, then this process's PATH). */
  readonly env: Readonly<Record<string, string>>;
  /** The current state file contents (defaults applied). */
  state(): SimState;
  /** Replace the state file, e.g. to change config between two hooks. */
  setState(state: SimStateInput): void;
  /** Change the state file: `sim.update((s) => ({ ...s, config: { ...s.config, strict: false } }))`. */
  update(change: (state: SimState) => SimStateInput): void;
  /** Everything recorded so far (see SimRecord). */
  read(): SimRecord;
  /** Forget the records (the state file stays). */
  clearJournal(): void;
  /** How many calls were answered without and with Node since creation or clearJournal(). */
  stats(): SimulatorStats;
  /** Fast mode: also pre-render network-get for these bindings and relation-ids for these endpoints. */
  addNames(names: { readonly bindings?: readonly string[]; readonly endpoints?: readonly string[] }): void;
  cleanup(): Promise<void>;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

let builtTool: Promise<string> | undefined;

/**
 * The bundled hook tool: `hook-tool.mjs` beside this module when this is the bundled
 * harness (build/simulator/), otherwise bundled now from hook-tool.ts with esbuild (once
 * per process, ~100 ms) into the temporary directory under a name that is the hash of its
 * content, so concurrent test processes and `npm run build` never race on one file.
 */
export function hookToolPath(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, 'hook-tool.mjs');
  if (existsSync(sibling)) return Promise.resolve(sibling);
  builtTool ??= (async () => {
    const source = join(here, 'hook-tool.ts');
    if (!existsSync(source)) throw new SimulatorError(`no hook tool: neither ${sibling} nor ${source} exists`);
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [source],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node18',
      write: false,
      logLevel: 'silent',
    });
    const text = result.outputFiles[0]?.text;
    if (text === undefined) throw new SimulatorError('esbuild produced no hook tool');
    const outFile = join(
      tmpdir(),
      `ops-sim-hook-tool-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`,
    );
    if (!existsSync(outFile)) writeAtomic(outFile, text);
    return outFile;
  })();
  return builtTool;
}

export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const tool = options.hookTool ?? (await hookToolPath());
  const node = options.node ?? process.execPath;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ops-sim-')));
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const statePath = join(dir, 'state.json');
  const journalPath = join(dir, 'journal.jsonl');
  const omit = new Set(options.omit ?? []);
  const tools = (options.tools ?? HOOK_TOOLS).filter((name) => !omit.has(name));
  const fast = options.fast === true;
  const fastDir = join(dir, 'fast');
  const rawDir = join(fastDir, 'raw');
  const layout: FastLayout = {
    binDir,
    fastDir,
    rawDir,
    statePath,
    journalPath,
    node,
    hookTool: tool,
    cat: findCat(),
    tools,
  };
  const bindings = new Set(options.bindings ?? []);
  const endpoints = new Set(options.endpoints ?? []);
  const counts = { fast: 0, node: 0 };
  // A reused directory: no tool of an earlier simulator stays on PATH that this one omits.
  for (const name of HOOK_TOOLS) if (!tools.includes(name)) rmSync(join(binDir, name), { force: true });
  if (fast) {
    rmSync(fastDir, { recursive: true, force: true });
  } else {
    for (const name of tools) {
      const path = join(binDir, name);
      // A wrapper with absolute paths: the tools work even when PATH has no node.
      await writeFile(path, `#!/bin/sh\nexec ${shQuote(node)} ${shQuote(tool)} ${name} "$@"\n`);
      await chmod(path, 0o755);
    }
  }

  const state = (): SimState => SimStateSchema.parse(JSON.parse(readFileSync(statePath, 'utf8')));
  const journal = (): JournalEntry[] => parseJournal(readFileSync(journalPath, 'utf8'));
  /** Fast mode: the raw records so far, answered in the current state file's state. */
  const pending = (flushed: readonly JournalEntry[]): { entries: JournalEntry[]; fast: number; node: number } => {
    const records = readRawJournal(rawDir);
    if (records.length === 0) return { entries: [], fast: 0, node: 0 };
    let entries: JournalEntry[];
    try {
      entries = replayRaw(state(), records, flushed);
    } catch (err) {
      throw new SimulatorError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    const viaSh = records.filter((r) => r.via === 'sh').length;
    return { entries, fast: viaSh, node: records.length - viaSh };
  };
  /** Fast mode: move the raw records into the JSON journal (before the state they were answered in changes). */
  const flush = (): void => {
    if (!existsSync(statePath) || !existsSync(journalPath)) return;
    const p = pending(journal());
    if (p.entries.length > 0) appendFileSync(journalPath, p.entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    counts.fast += p.fast;
    counts.node += p.node;
    if (p.fast + p.node > 0) clearRaw(rawDir);
  };
  const written = new Map<string, string>();
  const render = (): void => {
    renderFastTools(layout, state(), journal(), { bindings: [...bindings], endpoints: [...endpoints] }, written);
  };
  const setState = (input: SimStateInput): void => {
    const parsed = SimStateSchema.parse(input);
    if (fast) flush();
    writeAtomic(statePath, `${JSON.stringify(parsed, null, 2)}\n`);
    if (fast) render();
  };
  writeFileSync(journalPath, '');
  setState(options.state ?? {});
  return {
    dir,
    binDir,
    statePath,
    journalPath,
    rawDir: fast ? rawDir : null,
    fast,
    env: {
      OPS_SIM_STATE: statePath,
      OPS_SIM_JOURNAL: journalPath,
      ...(fast ? { OPS_SIM_RAW: rawDir } : {}),
      PATH: [binDir, process.env['PATH'] ?? ''].join(delimiter),
    },
    state,
    setState,
    update: (change) => setState(change(state())),
    read: () => {
      const flushed = journal();
      return foldJournal(state(), fast ? [...flushed, ...pending(flushed).entries] : flushed);
    },
    clearJournal: () => {
      writeFileSync(journalPath, '');
      counts.fast = 0;
      counts.node = 0;
      if (fast) {
        clearRaw(rawDir);
        render();
      }
    },
    stats: () => {
      if (!fast) return { fast: 0, node: journal().length };
      const p = pending(journal());
      return { fast: counts.fast + p.fast, node: counts.node + p.node };
    },
    addNames: (names) => {
      if (!fast) return;
      const before = bindings.size + endpoints.size;
      for (const b of names.bindings ?? []) bindings.add(b);
      for (const e of names.endpoints ?? []) endpoints.add(e);
      if (bindings.size + endpoints.size === before) return;
      flush();
      render();
    },
    cleanup: async () => {
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

const MetadataSchema = z.looseObject({
  'extra-bindings': z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  requires: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  provides: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  peers: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
});

/** The bindings and relation endpoints a charm declares in its metadata.yaml (none if it has none). */
export async function charmNames(charmDir: string): Promise<{ bindings: string[]; endpoints: string[] }> {
  const path = join(charmDir, 'metadata.yaml');
  if (!existsSync(path)) return { bindings: [], endpoints: [] };
  // Loaded here, not at the top: the bundled harness starts without evaluating yaml.
  const { default: YAML } = await import('yaml');
  let md: z.infer<typeof MetadataSchema>;
  try {
    md = MetadataSchema.parse(YAML.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new SimulatorError(`${path}: not a charm's metadata: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const endpoints = [md.requires, md.provides, md.peers].flatMap((m) => Object.keys(m ?? {}));
  return { bindings: Object.keys(md['extra-bindings'] ?? {}), endpoints };
}

export interface DispatchOptions {
  /** Extra or overriding environment; `PATH` here replaces the system part of PATH (the tools stay first). */
  readonly env?: Readonly<Record<string, string>>;
  /** For `actions/NAME`: the params action-get returns (written into the state file). */
  readonly params?: Readonly<Record<string, unknown>>;
  /**
   * Run `hooks/NAME` itself, as agents older than Juju 2.8 did, without
   * JUJU_DISPATCH_PATH (dispatch must derive it from $0).
   */
  readonly legacyHook?: boolean;
  /** Milliseconds; default 60 s. */
  readonly timeout?: number;
  /**
   * argv run in front of dispatch, e.g. `['ip', 'netns', 'exec', 'unit']`: dispatch (and the
   * hook tools it starts) then run inside it, while the simulator stays in this process.
   */
  readonly command?: readonly string[];
  /**
   * Awaited after dispatch has exited and before the tools' records are read. A test that kills
   * the hook waits here for the processes the hook had started: they run on after it (as under
   * Juju), and one of them may still be writing its record.
   */
  readonly afterExit?: () => Promise<void>;
}

/** runDispatch honours DispatchOptions.command (callers that must not run dispatch unwrapped check this). */
export const DISPATCH_COMMAND = true;

export interface DispatchResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Everything the tools recorded so far (cumulative; clearJournal() between runs to separate them). */
  readonly record: SimRecord;
  /** The environment dispatch ran with. */
  readonly env: Readonly<Record<string, string>>;
}

const HOOK_PATH = /^(hooks|actions)\/([a-z0-9][a-z0-9-]*)$/;

/**
 * Run `<charmDir>/dispatch` as the Juju agent does: cwd is the charm directory, a clean
 * environment with the JUJU_* variables of the event, the hook tools first on PATH.
 * `dispatchPath` is `hooks/NAME` or `actions/NAME`.
 */
export async function runDispatch(
  charmDir: string,
  dispatchPath: string,
  sim: Simulator,
  options: DispatchOptions = {},
): Promise<DispatchResult> {
  const m = HOOK_PATH.exec(dispatchPath);
  if (!m)
    throw new SimulatorError(`dispatch path must be hooks/NAME or actions/NAME, got ${JSON.stringify(dispatchPath)}`);
  const [, kind, name = ''] = m;
  const dir = resolve(charmDir);
  if (sim.fast) sim.addNames(await charmNames(dir));
  const state = sim.state();
  const unit = state.unit;
  const env: Record<string, string> = {
    HOME: process.env['HOME'] ?? '/root',
    LANG: 'C.UTF-8',
    TMPDIR: process.env['TMPDIR'] ?? tmpdir(),
    CHARM_DIR: dir,
    JUJU_CHARM_DIR: dir,
    JUJU_CONTEXT_ID: `${unit}-${name}-${Date.now()}`,
    JUJU_UNIT_NAME: unit,
    JUJU_MODEL_NAME: 'sim',
    JUJU_MODEL_UUID: '00000000-0000-4000-8000-000000000000',
    JUJU_VERSION: '3.6.4',
    JUJU_MACHINE_ID: '0',
    JUJU_AVAILABILITY_ZONE: 'zone-a',
    JUJU_PRINCIPAL_UNIT: 'ubuntu/0',
    JUJU_API_ADDRESSES: '10.0.0.2:17070',
    OPS_SIM_STATE: sim.statePath,
    OPS_SIM_JOURNAL: sim.journalPath,
    ...(sim.rawDir !== null ? { OPS_SIM_RAW: sim.rawDir } : {}),
  };
  if (!options.legacyHook) env['JUJU_DISPATCH_PATH'] = dispatchPath;
  if (kind === 'hooks') {
    if (state.action !== null) sim.update((s) => ({ ...s, action: null }));
    env['JUJU_HOOK_NAME'] = name;
    const rel = /^(.+)-relation-(created|joined|changed|departed|broken)$/.exec(name);
    if (rel?.[1] !== undefined) {
      const endpoint = rel[1];
      const first = state.relations[endpoint]?.[0];
      env['JUJU_RELATION'] = endpoint;
      if (first) {
        env['JUJU_RELATION_ID'] = `${endpoint}:${first.id}`;
        env['JUJU_REMOTE_APP'] = first.app;
        const remote = Object.keys(first.units)[0];
        if (remote !== undefined && rel[2] !== 'created' && rel[2] !== 'broken') env['JUJU_REMOTE_UNIT'] = remote;
      }
    }
  } else {
    sim.update((s) => ({ ...s, action: { name, params: { ...(options.params ?? s.action?.params ?? {}) } } }));
    env['JUJU_ACTION_NAME'] = name;
    env['JUJU_ACTION_UUID'] = `sim-${Date.now()}`;
  }
  const { PATH: systemPath, ...extra } = options.env ?? {};
  Object.assign(env, extra);
  env['PATH'] = [sim.binDir, systemPath ?? process.env['PATH'] ?? '/usr/bin:/bin'].join(delimiter);
  const file = options.legacyHook ? join(dir, dispatchPath) : join(dir, 'dispatch');
  const [cmd = file, ...args] = [...(options.command ?? []), file];
  const result = await execa(cmd, args, {
    cwd: dir,
    env,
    extendEnv: false,
    reject: false,
    timeout: options.timeout ?? 60_000,
    stdin: 'ignore',
  });
  if (result.exitCode === undefined) {
    throw new SimulatorError(`${dispatchPath}: dispatch did not run: ${result.message}`, { cause: result });
  }
  await options.afterExit?.();
  return {
    exitCode: result.exitCode,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    record: sim.read(),
    env,
  };
}
