/**
 * Fast mode's raw journal: one file per hook-tool call in a directory (`OPS_SIM_RAW`),
 * named by a sequence number that each call claims with an exclusive create (`set -C` in
 * sh, `wx` in Node), so concurrent calls never share a file and sequential calls keep
 * their order. A record is NUL-separated fields (`printf '%s\0'`), so arguments with
 * newlines, quotes or `=` survive byte for byte:
 *
 *   sh:   ops-sim-1 \0 sh \0 EXIT \0 TOOL \0 ARGC \0 ARG… \0 STDIN(0|1) \0 [NAME=VALUE \0]…
 *         (the environment the answer may depend on; `N.in` holds stdin when STDIN is 1)
 *   node: ops-sim-1 \0 node \0 JOURNAL-ENTRY-JSON \0
 *
 * sh records are written by the generated tools without starting Node; `replayRaw` runs
 * them through the same `answer()` as the Node tool, in order, and checks that the exit
 * code the sh tool gave is the one Juju's logic gives. Node records (the fallback for
 * anything not in the sh tables) carry their answer already.
 *
 * No imports but node:fs and zod/mini (through state.ts): the Node tool bundles this.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { answer, journalEntry } from './core.js';
import { isHookTool, JournalEntrySchema, type JournalEntry, type SimState } from './state.js';
import { OpsError } from '../../errors.js';

export const RAW_MAGIC = 'ops-sim-1';
/** The environment variables an answer may depend on; sh records carry those that are set. */
export const RAW_ENV = ['JUJU_RELATION', 'JUJU_RELATION_ID', 'JUJU_REMOTE_UNIT', 'JUJU_REMOTE_APP'] as const;
/** Touched by any status-set: status-get's pre-rendered answer is stale from then on. */
export const DIRTY_STATUS = '.dirty-status';
/** Touched by any state-set/state-delete: state-get's pre-rendered answer is stale from then on. */
export const DIRTY_STATE = '.dirty-state';
/** The next sequence number, a hint only (the exclusive create is the truth). */
export const SEQ_HINT = '.seq';

export class RawJournalError extends OpsError {
  override readonly name = 'RawJournalError';
}

export type RawRecord =
  | {
      readonly seq: number;
      readonly via: 'sh';
      readonly exit: number;
      readonly tool: string;
      readonly argv: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      /** What the call read on stdin, when the sh tool captured it. */
      readonly stdin: string | null;
    }
  | { readonly seq: number; readonly via: 'node'; readonly entry: JournalEntry };

function bad(seq: number, why: string): RawJournalError {
  return new RawJournalError(`raw journal record ${seq}: ${why}`);
}

export function parseRawRecord(seq: number, data: string, stdin: () => string | null): RawRecord {
  const f = data.split('\0');
  if (f.at(-1) !== '') throw bad(seq, 'not NUL-terminated (a call still writing, or a torn record)');
  f.pop();
  if (f[0] !== RAW_MAGIC) throw bad(seq, `starts with ${JSON.stringify(f[0])}, not ${RAW_MAGIC}`);
  if (f[1] === 'node') {
    if (f.length !== 3) throw bad(seq, `a node record has ${f.length} fields, not 3`);
    return { seq, via: 'node', entry: JournalEntrySchema.parse(JSON.parse(f[2] ?? '')) };
  }
  if (f[1] !== 'sh') throw bad(seq, `unknown writer ${JSON.stringify(f[1])}`);
  const exit = Number(f[2]);
  const tool = f[3] ?? '';
  const argc = Number(f[4]);
  if (!Number.isInteger(exit) || !Number.isInteger(argc) || argc < 0 || f.length < 6 + argc)
    throw bad(seq, 'malformed header');
  const argv = f.slice(5, 5 + argc);
  const hasStdin = f[5 + argc];
  if (hasStdin !== '0' && hasStdin !== '1') throw bad(seq, `stdin flag ${JSON.stringify(hasStdin)}`);
  const env: Record<string, string> = {};
  for (const kv of f.slice(6 + argc)) {
    const eq = kv.indexOf('=');
    const name = kv.slice(0, eq);
    if (eq <= 0 || !(RAW_ENV as readonly string[]).includes(name))
      throw bad(seq, `unexpected environment field ${JSON.stringify(kv)}`);
    env[name] = kv.slice(eq + 1);
  }
  return { seq, via: 'sh', exit, tool, argv, env, stdin: hasStdin === '1' ? (stdin() ?? '') : null };
}

/** Every record in `dir`, in sequence order. */
export function readRawJournal(dir: string): RawRecord[] {
  if (!existsSync(dir)) return [];
  const seqs = readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
  return seqs.map((seq) =>
    parseRawRecord(seq, readFileSync(join(dir, String(seq)), 'utf8'), () => {
      const p = join(dir, `${seq}.in`);
      return existsSync(p) ? readFileSync(p, 'utf8') : null;
    }),
  );
}

/**
 * The journal entries of `records`, answering sh records with `answer()` in `state`, after
 * `before` (the entries already flushed to the JSON journal). Throws RawJournalError when an
 * sh tool's exit code is not the one Juju's logic gives: the fast path must never differ.
 */
export function replayRaw(
  state: SimState,
  records: readonly RawRecord[],
  before: readonly JournalEntry[] = [],
): JournalEntry[] {
  const all: JournalEntry[] = [...before];
  const out: JournalEntry[] = [];
  for (const r of records) {
    let entry: JournalEntry;
    if (r.via === 'node') {
      entry = r.entry;
    } else {
      if (!isHookTool(r.tool)) throw bad(r.seq, `unknown tool ${JSON.stringify(r.tool)}`);
      const seen = [...all];
      const a = answer(state, r.tool, r.argv, {
        env: r.env,
        prior: () => seen,
        readFile: (file) => {
          if (file === '-' && r.stdin !== null) return r.stdin;
          throw new RawJournalError(`cannot read ${file === '-' ? 'stdin' : file}: not captured by the fast tool`);
        },
      });
      if (a.exit !== r.exit) {
        const shown = [r.tool, ...r.argv].map((x) => JSON.stringify(x)).join(' ');
        throw new RawJournalError(
          `fast mode answered ${shown} with exit ${r.exit},` +
            ` but the simulator's logic gives exit ${a.exit}${a.stderr ? ` (${a.stderr.trim()})` : ''}: ` +
            'the charm saw an outcome Juju would not give; run this case with fast: false',
        );
      }
      entry = journalEntry(r.tool, r.argv, a);
    }
    all.push(entry);
    out.push(entry);
  }
  return out;
}

/**
 * Claim the next sequence number in `dir` and write `data` there (the Node fallback's side
 * of the protocol the sh tools follow).
 */
export function appendRawRecord(dir: string, data: string): number {
  let n = 0;
  try {
    const hint = readFileSync(join(dir, SEQ_HINT), 'utf8').trim();
    if (/^\d+$/.test(hint)) n = Number(hint);
  } catch {
    // No hint yet: start from 0.
  }
  for (let tries = 0; ; tries++, n++) {
    let fd: number;
    try {
      fd = openSync(join(dir, String(n)), 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && tries < 100_000) continue;
      throw new RawJournalError(`cannot record a call in ${dir}`, { cause: err });
    }
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    try {
      writeFileSync(join(dir, SEQ_HINT), `${n + 1}\n`);
    } catch {
      // Only a hint.
    }
    return n;
  }
}

export function nodeRecord(entry: JournalEntry): string {
  return `${RAW_MAGIC}\0node\0${JSON.stringify(entry)}\0`;
}
