/**
 * The hook-tool simulator: ONE executable that answers as any Juju hook tool. It is
 * invoked either through a wrapper named after the tool that runs
 * `node hook-tool.mjs TOOL ARGS…`, or through a symlink named after the tool.
 *
 * It reads what Juju would know from the JSON state file ($OPS_SIM_STATE) and appends
 * one JSON line per call to the journal ($OPS_SIM_JOURNAL): the exact argv, the exit code
 * and the effect (status set, log line, action result…). Errors look like Juju's: usage
 * errors (bad flags, bad arguments) print `ERROR …` and exit 2, run-time errors (unknown
 * binding, not in an action) exit 1.
 *
 * The answers themselves come from `answer()` (core.ts), which the harness also uses to
 * pre-render fast mode's tables. In fast mode (OPS_SIM_RAW set) this is the fallback of the
 * generated sh tools: it records into their raw journal (raw.ts) instead, so the order of
 * calls is kept, and touches the markers that make status-get/state-get fall back too.
 *
 * Bundled by scripts/build.mjs (and on demand by harness.ts) into a single .mjs with no
 * run-time dependencies; keep its imports light, it starts once per tool call.
 */
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { answer, journalEntry } from './core.js';
import { appendRawRecord, DIRTY_STATE, DIRTY_STATUS, nodeRecord, readRawJournal, replayRaw } from './raw.js';
import { isHookTool, parseJournal, SimStateSchema, type JournalEntry, type SimState } from './state.js';

function readJournal(path: string): JournalEntry[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return parseJournal(text);
}

/** Everything recorded before this call: the JSON journal, then (fast mode) the raw one replayed. */
function prior(state: SimState, journalPath: string, rawDir: string | undefined): JournalEntry[] {
  const flushed = readJournal(journalPath);
  return rawDir ? [...flushed, ...replayRaw(state, readRawJournal(rawDir), flushed)] : flushed;
}

function touch(path: string): void {
  closeSync(openSync(path, 'a'));
}

function main(): number {
  let tool = basename(process.argv[1] ?? '');
  let argv = process.argv.slice(2);
  if (!isHookTool(tool)) {
    tool = argv[0] ?? '';
    argv = argv.slice(1);
  }
  if (!isHookTool(tool)) {
    process.stderr.write(`ERROR hook-tool simulator: unknown tool ${JSON.stringify(tool)}\n`);
    return 2;
  }
  const statePath = process.env['OPS_SIM_STATE'];
  const journalPath = process.env['OPS_SIM_JOURNAL'];
  // Fast mode: this is the fallback for what the sh tools do not answer; it records into
  // their raw journal so that the order of calls is kept.
  const rawDir = process.env['OPS_SIM_RAW'] || undefined;
  if (!statePath || !journalPath) {
    process.stderr.write(`ERROR hook-tool simulator: ${tool}: OPS_SIM_STATE and OPS_SIM_JOURNAL must be set\n`);
    return 2;
  }
  const state = SimStateSchema.parse(JSON.parse(readFileSync(statePath, 'utf8')));
  const a = answer(state, tool, argv, {
    env: process.env,
    prior: () => prior(state, journalPath, rawDir),
    readFile: (file) => readFileSync(file === '-' ? 0 : file, 'utf8'),
  });
  const entry = journalEntry(tool, argv, a);
  if (rawDir) {
    appendRawRecord(rawDir, nodeRecord(entry));
    if (a.effect?.kind === 'status') touch(join(rawDir, DIRTY_STATUS));
    if (a.effect?.kind === 'state-set' || a.effect?.kind === 'state-delete') touch(join(rawDir, DIRTY_STATE));
  } else {
    appendFileSync(journalPath, `${JSON.stringify(entry)}\n`);
  }
  if (a.stdout) process.stdout.write(a.stdout);
  if (a.stderr) process.stderr.write(a.stderr);
  return a.exit;
}

process.exitCode = main();
