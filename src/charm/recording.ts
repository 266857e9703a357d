/**
 * What the charm tells the hook memo after an update-status that changed nothing: the engine's
 * processes, recorded as they ran (through the injected spawn), and every file read it made,
 * recorded through the engine's one file-access layer (src/vrf/files.ts) with what it found.
 * Nothing is listed by hand: what a hit checks is what the run read, each read as a call of one
 * of memo.sh's probes (the record's plan), and the facts the engine read are handed to memo.sh
 * in its record mode, which reduces them to the values a hit compares: the rule is in memo.sh
 * only. A run is recordable only when the engine started nothing but `ip -json` reads and the
 * `flock` of the host lock: no apply, no modprobe.
 */
import { dirname, resolve } from 'node:path';
import type { MemoAllowance, RecordText } from '../ops/index.js';
import { observeFileReads, type FileRead } from '../vrf/files.js';
import { execaSpawn, SPAWN_ENV, type Spawn, type SpawnResult } from '../vrf/ip.js';
import type { CharmHost } from './host.js';
import { MEMO_MAX_AGE_MS } from './memo.js';

/**
 * Files larger than this are checked by a hit by type only (a non-empty regular file), and by
 * content by every full run: dash reads a file one read(2) per byte, and appends line by line.
 * Measured here through vrf_memo_file: an 8 KiB file costs a hit 3–4 ms of CPU, the 1.5 MB CLI
 * bundle 38 s (BENCHMARKS.md). The engine's large reads are the CLI bundle and its boot copy
 * (DEVELOPERS.md, "The hook memo").
 */
export const CONTENT_LIMIT = 8192;

/** The heredoc delimiter of an ip read's batch input in the plan. */
const EOF = 'VRF_HOST_MEMO_EOF';
/** ip's output goes to memo.sh in arguments of at most this many UTF-16 units (≤ 96 KB, under Linux's 128 KiB per argument). */
const CHUNK = 32_000;

export interface SpawnCall {
  readonly file: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly result: SpawnResult;
}

/** The host, with every process the engine starts recorded into `calls`. */
export function recordingHost(host: CharmHost): { host: CharmHost; calls: SpawnCall[] } {
  const calls: SpawnCall[] = [];
  const base: Spawn = host.engine.spawn ?? execaSpawn;
  const spawn: Spawn = async (file, args, options) => {
    const result = await base(file, args, options);
    calls.push({ file, args: [...args], ...(options.input !== undefined ? { input: options.input } : {}), result });
    return result;
  };
  return { host: { ...host, engine: { ...host.engine, spawn } }, calls };
}

/** Runs `run`, recording every file read it makes through src/vrf/files.ts, in order; `reads()` gives them. */
export async function recordingFiles<T>(run: () => Promise<T>): Promise<{ result: T; reads: () => FileRead[] }> {
  const seen: FileRead[] = [];
  const result = await observeFileReads((r) => seen.push(r), run);
  return { result, reads: () => [...seen] };
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * One probe of the plan: its sh command (one logical line; a quoted name may hold newlines), the
 * here-document that feeds it (an ip batch's input) and the facts memo.sh's record mode takes for it.
 */
interface Probe {
  readonly line: string;
  readonly heredoc?: string;
  readonly data: readonly string[];
}
type ProbeOr = Probe | { readonly unrecordable: string };

const gone = (error: string | undefined) => error === 'ENOENT' || error === 'ENOTDIR';

function fileProbe(r: FileRead, sysctls: string): ProbeOr {
  const p = q(r.path);
  switch (r.kind) {
    case 'content': {
      // A sysctl: dash sees its first character only (memo.sh, vrf_memo_sysctl).
      const probe = r.path.startsWith(sysctls) ? 'sysctl' : 'file';
      if (r.bytes === null) {
        return gone(r.error)
          ? { line: `vrf_memo_${probe} ${p}`, data: [probe, 'absent', ''] }
          : { unrecordable: `${r.path}: ${r.error ?? 'unreadable'}` };
      }
      if (r.bytes.length > CONTENT_LIMIT) return { line: `vrf_memo_kind ${p}`, data: ['kind', 'file'] };
      // Without its NUL bytes: an argument cannot carry them, and dash's read drops them (PID 1's
      // environ, read for container= and NUL-separated, then compares as its names and values).
      const bytes = Buffer.from(r.bytes.filter((b) => b !== 0));
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) return { unrecordable: `${r.path} is not UTF-8 text` };
      return { line: `vrf_memo_${probe} ${p}`, data: [probe, 'file', text] };
    }
    case 'names':
      if (r.names === null) {
        return gone(r.error)
          ? { line: `vrf_memo_names ${p}`, data: ['names', 'absent'] }
          : { unrecordable: `${r.path}: ${r.error ?? 'unreadable'}` };
      }
      return { line: ['vrf_memo_names', p, ...r.names.map(q)].join(' '), data: ['names', 'dir'] };
    case 'stat':
      if (r.type === null && !gone(r.error)) return { unrecordable: `${r.path}: ${r.error ?? 'cannot stat'}` };
      return { line: `vrf_memo_kind ${p}`, data: ['kind', r.type ?? 'absent'] };
    case 'link':
      if (r.target !== null) {
        return { line: `vrf_memo_link ${p} ${q(resolve(dirname(r.path), r.target))}`, data: ['link', 'link'] };
      }
      return gone(r.error)
        ? { line: `vrf_memo_link ${p} ''`, data: ['link', 'absent'] }
        : { unrecordable: `${r.path} is not a symlink (${r.error ?? 'readlink failed'})` };
    case 'exists':
      return { line: `vrf_memo_exists ${p}`, data: ['exists', r.exists ? 'yes' : 'no'] };
  }
}

function ipProbe(c: SpawnCall): ProbeOr {
  const argv = [c.file, ...c.args].map(q).join(' ');
  if (c.result.stderr !== '') return { unrecordable: `${c.file} ${c.args.join(' ')} wrote to stderr` };
  const env = Object.entries(SPAWN_ENV)
    .map(([k, v]) => q(`${k}=${v}`))
    .join(' ');
  const out = c.result.stdout;
  const chunks: string[] = [];
  for (let i = 0; i < out.length;) {
    let end = Math.min(i + CHUNK, out.length);
    // never between the two halves of a surrogate pair
    if (end < out.length && /[\uD800-\uDBFF]/.test(out[end - 1] ?? '')) end -= 1;
    chunks.push(out.slice(i, end));
    i = end;
  }
  const data = ['ip', String(c.result.exitCode), String(chunks.length), ...chunks];
  if (c.input === undefined) return { line: `vrf_memo_ip ${env} -- ${argv} </dev/null`, data };
  const input = c.input.endsWith('\n') ? c.input : `${c.input}\n`;
  if (input.split('\n').includes(EOF)) return { unrecordable: `an ip batch input has a line ${EOF}` };
  return { line: `vrf_memo_ip ${env} -- ${argv} <<'${EOF}'`, heredoc: `${input}${EOF}`, data };
}

/** Two observations of one read that found different things: the host changed under the run. */
const sameRead = (a: FileRead, b: FileRead): boolean =>
  JSON.stringify(a, (_, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v)) ===
  JSON.stringify(b, (_, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));

/** The plan (sh: one probe call per read, files first, then the ip reads) and the facts for it, or why not. */
export function memoPlan(
  calls: readonly SpawnCall[],
  reads: readonly FileRead[],
  procRoot = '/proc',
): { plan: string; data: string[] } | { unrecordable: string } {
  const sysctls = `${procRoot.replace(/\/+$/, '')}/sys/`;
  const first = new Map<string, FileRead>();
  for (const r of reads) {
    const key = `${r.kind}\0${r.path}`;
    const had = first.get(key);
    if (had === undefined) first.set(key, r);
    else if (!sameRead(had, r)) return { unrecordable: `${r.path} changed during the run` };
  }
  const probes = [...[...first.values()].map((r) => fileProbe(r, sysctls)), ...calls.map(ipProbe)];
  const lines: string[] = [];
  const data: string[] = [];
  for (const p of probes) {
    if ('unrecordable' in p) return p;
    // `|| return` ends the command itself, whatever newlines its quoted words hold; a here-document
    // starts on the line after it
    lines.push(`  ${p.line} || return`, ...(p.heredoc !== undefined ? [p.heredoc] : []));
    data.push(...p.data);
  }
  return { plan: ['vrf_memo_plan() {', ...lines, '}'].join('\n'), data };
}

/**
 * The memo allowance for a run whose engine processes were `calls` and whose file reads were
 * `reads` (the caller has checked that the converge applied nothing: a sysctl step is a file
 * write, not a process), or null when the run started anything but reads.
 */
export function memoAllowance(
  calls: readonly SpawnCall[],
  host: CharmHost,
  reads: readonly FileRead[],
): MemoAllowance | null {
  const ip = host.engine.ipBin ?? 'ip';
  const flock = host.engine.flockBin ?? 'flock';
  const script = host.memoScript;
  if (script === undefined) return null;
  const ipReads: SpawnCall[] = [];
  for (const c of calls) {
    if (c.file === flock) continue;
    if (c.file !== ip || !c.args.includes('-json')) return null;
    ipReads.push(c);
  }
  return {
    record: async ({ hook, env }): Promise<RecordText> => {
      const p = memoPlan(ipReads, reads, host.engine.procRoot);
      if ('unrecordable' in p) return p;
      const r = await execaSpawn(
        '/bin/sh',
        [script, '--record', hook, String(MEMO_MAX_AGE_MS / 1000), p.plan, ...p.data],
        { env },
      );
      if (r.exitCode !== 0 || !r.stdout.endsWith('vrf_memo_rec_complete=1\n'))
        return { unrecordable: `memo.sh --record exited ${r.exitCode}: ${r.stderr.trim()}` };
      return { text: r.stdout };
    },
  };
}
