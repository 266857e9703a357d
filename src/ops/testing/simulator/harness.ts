/**
 * The out-of-process harness: runs a built charm's `dispatch` as Juju runs it, with the
 * hook-tool simulator's tools on PATH.
 *
 *   const sim = await createSimulator({ state: { config: {...}, networks: {...} } });
 *   const run = await runDispatch('build/charm', 'hooks/install', sim);
 *   run.exitCode; run.record.statusHistory; run.record.logs; run.record.calls;
 *   await sim.cleanup();
 *
 * scripts/build.mjs also bundles this file to build/simulator/harness.mjs (next to
 * build/simulator/hook-tool.mjs), so plain node scripts can use it without TypeScript.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  foldJournal,
  HOOK_TOOLS,
  parseJournal,
  SimStateSchema,
  type HookToolName,
  type SimRecord,
  type SimState,
  type SimStateInput,
} from './state.js';

export { readZip, extractZip, unpackCharm, type ZipEntryInfo } from './charmfile.js';
export { HOOK_TOOLS, type HookToolName, type SimRecord, type SimState, type SimStateInput } from './state.js';

export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
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
}

export interface Simulator {
  readonly dir: string;
  /** Holds one executable per hook tool, named after it. */
  readonly binDir: string;
  readonly statePath: string;
  readonly journalPath: string;
  /** OPS_SIM_STATE, OPS_SIM_JOURNAL and PATH (binDir first, then this process's PATH). */
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
  cleanup(): Promise<void>;
}

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
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
    const outFile = join(tmpdir(), `ops-sim-hook-tool-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
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
  for (const name of options.tools ?? HOOK_TOOLS) {
    if (omit.has(name)) continue;
    const path = join(binDir, name);
    // A wrapper with absolute paths: the tools work even when PATH has no node.
    await writeFile(path, `#!/bin/sh\nexec ${shQuote(node)} ${shQuote(tool)} ${name} "$@"\n`);
    await chmod(path, 0o755);
  }
  const setState = (input: SimStateInput): void => {
    writeAtomic(statePath, `${JSON.stringify(SimStateSchema.parse(input), null, 2)}\n`);
  };
  const state = (): SimState => SimStateSchema.parse(JSON.parse(readFileSync(statePath, 'utf8')));
  setState(options.state ?? {});
  writeFileSync(journalPath, '');
  return {
    dir,
    binDir,
    statePath,
    journalPath,
    env: {
      OPS_SIM_STATE: statePath,
      OPS_SIM_JOURNAL: journalPath,
      PATH: [binDir, process.env['PATH'] ?? ''].join(delimiter),
    },
    state,
    setState,
    update: (change) => setState(change(state())),
    read: () => foldJournal(state(), parseJournal(readFileSync(journalPath, 'utf8'))),
    clearJournal: () => writeFileSync(journalPath, ''),
    cleanup: async () => {
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
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
}

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
export async function runDispatch(charmDir: string, dispatchPath: string, sim: Simulator, options: DispatchOptions = {}): Promise<DispatchResult> {
  const m = HOOK_PATH.exec(dispatchPath);
  if (!m) throw new SimulatorError(`dispatch path must be hooks/NAME or actions/NAME, got ${JSON.stringify(dispatchPath)}`);
  const [, kind, name = ''] = m;
  const dir = resolve(charmDir);
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
  const result = await execa(file, [], {
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
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), record: sim.read(), env };
}
