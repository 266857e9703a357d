/**
 * Fast mode: POSIX sh hook tools generated from the state, so that a call starts no Node.
 *
 * - Query tools answer from a table the harness pre-renders with `answer()` (the Node
 *   tool's own logic) for the argv forms the ops port uses: the sh tool compares its argv
 *   with each key literally, and `cat`s the stored stdout/stderr with the stored exit code.
 * - Recording tools whose outcome the argv's shape decides (a log line, a status, an action
 *   result with plain keys…) write the raw argv to the raw journal (raw.ts) and exit 0;
 *   `read()` replays it through `answer()`.
 * - status-get and state-get answer from the table only until a status-set / state-set or
 *   state-delete in the same journal touches a marker file.
 * - Anything else `exec`s the Node tool (hook-tool.ts), which records into the same raw
 *   journal, so behaviour stays exactly the simulator's.
 *
 * Nothing from the state is ever evaluated by the shell: every key, path and name goes into
 * the script through `shQuote` (single quotes, `'` as `'\''`), compared as `"x$1" = 'x…'`.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { answer, type Answer } from './core.js';
import { DIRTY_STATE, DIRTY_STATUS, RAW_ENV, RAW_MAGIC, SEQ_HINT } from './raw.js';
import type { HookToolName, JournalEntry, SimState } from './state.js';

/** Single-quote `s` for sh: the result is one word with exactly the bytes of `s`. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface FastLayout {
  readonly binDir: string;
  /** Holds the answer files (`answers/`) and the raw journal (`raw/`). */
  readonly fastDir: string;
  readonly rawDir: string;
  readonly statePath: string;
  readonly journalPath: string;
  readonly node: string;
  readonly hookTool: string;
  /** `cat` by absolute path: the tools work whatever PATH the charm runs with. */
  readonly cat: string;
  readonly tools: readonly HookToolName[];
}

/** An absolute path of `cat`: from PATH, else the usual places. */
export function findCat(path = process.env['PATH'] ?? ''): string {
  for (const dir of [...path.split(delimiter).filter((d) => isAbsolute(d)), '/usr/bin', '/bin']) {
    const p = join(dir, 'cat');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return '/bin/cat';
}

/** Names the state does not hold but the charm may ask about (metadata.yaml's bindings and endpoints). */
export interface FastExtras {
  readonly bindings: readonly string[];
  readonly endpoints: readonly string[];
}

/** Tools that only answer (no effect): table-driven. */
const QUERY_TOOLS: ReadonlySet<HookToolName> = new Set([
  'config-get',
  'network-get',
  'is-leader',
  'action-get',
  'status-get',
  'state-get',
  'relation-ids',
  'relation-list',
  'relation-get',
]);

const FMT = '--format=json';

function uniq(xs: Iterable<string>): string[] {
  return [...new Set(xs)];
}

/** The argv forms to pre-render per query tool: those src/ops/hookcmds uses, and a few more. */
export function queryForms(state: SimState, extras: FastExtras): Map<HookToolName, string[][]> {
  const bindings = uniq([...Object.keys(state.networks), ...extras.bindings, ...extras.endpoints]);
  const endpoints = uniq([...Object.keys(state.relations), ...extras.endpoints]);
  const rels = Object.entries(state.relations).flatMap(([ep, rs]) => rs.map((r) => ({ id: `${ep}:${r.id}`, r })));
  const configKeys = Object.keys(state.config);
  const forms = new Map<HookToolName, string[][]>([
    [
      'config-get',
      [
        [FMT],
        ...configKeys.flatMap((k) => [
          [k, FMT],
          [FMT, k],
        ]),
      ],
    ],
    ['network-get', bindings.flatMap((b) => [[FMT, b], ...rels.map(({ id }) => [FMT, '-r', id, b])])],
    ['is-leader', [[FMT]]],
    ['action-get', [[FMT], ...Object.keys(state.action?.params ?? {}).map((k) => [k, FMT])]],
    ['status-get', [['--include-data', FMT], [FMT]]],
    ['state-get', [[FMT]]],
    ['relation-ids', endpoints.map((ep) => [ep, FMT])],
    ['relation-list', rels.map(({ id }) => ['-r', id, FMT])],
    [
      'relation-get',
      rels.flatMap(({ id, r }) => uniq([...Object.keys(r.units), state.unit]).map((u) => [FMT, '-r', id, '-', u])),
    ],
  ]);
  return forms;
}

// Two environments that differ in every variable an answer may read: a form is
// pre-rendered only when both give the same answer (it does not depend on the environment).
const ENV_A: Record<string, string> = {};
const ENV_B: Record<string, string> = Object.fromEntries(RAW_ENV.map((k) => [k, `juju-info:424242-${k}`]));

function same(a: Answer, b: Answer): boolean {
  return (
    a.exit === b.exit &&
    a.stdout === b.stdout &&
    a.stderr === b.stderr &&
    a.effect === undefined &&
    b.effect === undefined
  );
}

/** `[ $# -eq N ] && [ "x$1" = 'x…' ] && …` for exactly `argv`. */
function argvTest(argv: readonly string[]): string {
  return [`[ $# -eq ${argv.length} ]`, ...argv.map((a, i) => `[ "x\${${i + 1}}" = ${shQuote(`x${a}`)} ]`)].join(' && ');
}

function prelude(tool: HookToolName, l: FastLayout): string {
  const envLines = RAW_ENV.map((k) => `    [ -z "\${${k}+x}" ] || printf '%s\\0' "${k}=\${${k}}"`);
  return `#!/bin/sh
# ops hook-tool simulator, fast mode: ${tool}. Generated from the state file by the harness; do not edit.
R=${shQuote(l.rawDir)}
fallback() {
  OPS_SIM_STATE=${shQuote(l.statePath)}
  OPS_SIM_JOURNAL=${shQuote(l.journalPath)}
  OPS_SIM_RAW=${shQuote(l.rawDir)}
  export OPS_SIM_STATE OPS_SIM_JOURNAL OPS_SIM_RAW
  exec ${shQuote(l.node)} ${shQuote(l.hookTool)} ${shQuote(tool)} "$@"
}
# record EXIT STDIN(0|1) ARGV…: claim the next free sequence number with an exclusive create.
record() {
  x=$1
  i=$2
  shift 2
  if [ ! -d "$R" ]; then
    printf '%s\n' "ERROR hook-tool simulator: no raw journal at $R (simulator cleaned up?)" >&2
    exit 70
  fi
  n=
  { read -r n <"$R/${SEQ_HINT}"; } 2>/dev/null
  case $n in '' | *[!0123456789]*) n=0 ;; esac
  t=0
  set -C
  until {
    printf '%s\\0' ${shQuote(RAW_MAGIC)} sh "$x" ${shQuote(tool)} "$#" "$@" "$i"
${envLines.join('\n')}
  } 2>/dev/null >"$R/$n"; do
    n=$((n + 1))
    t=$((t + 1))
    if [ "$t" -gt 100000 ]; then
      set +C
      printf '%s\\n' "ERROR hook-tool simulator: cannot record a call in $R" >&2
      exit 70
    fi
  done
  set +C
  printf '%s\\n' "$((n + 1))" 2>/dev/null >"$R/${SEQ_HINT}"
  if [ "$i" = 1 ]; then ${shQuote(l.cat)} >"$R/$n.in"; fi
}
`;
}

/** The answer file holding `text`: named by its hash, written once, shared by equal answers. */
function answerFile(answerDir: string, text: string): string {
  const p = join(answerDir, createHash('sha256').update(text).digest('hex').slice(0, 32));
  if (!existsSync(p)) writeFileSync(p, text);
  return p;
}

function emit(l: FastLayout, a: Answer, record: string): string[] {
  const answerDir = join(l.fastDir, 'answers');
  const lines = [`  ${record}`];
  if (a.stdout !== '') lines.push(`  ${shQuote(l.cat)} ${shQuote(answerFile(answerDir, a.stdout))}`);
  if (a.stderr !== '') lines.push(`  ${shQuote(l.cat)} ${shQuote(answerFile(answerDir, a.stderr))} >&2`);
  lines.push(`  exit ${a.exit}`);
  return lines;
}

// The shapes for which a recording tool's outcome is certain from argv alone (given whether
// an action runs, which the harness knows when it renders). sh conditions on "$@".
const STATUSES = 'maintenance | blocked | waiting | active';
const SHAPES: Partial<
  Record<
    HookToolName,
    { readonly cond: string; readonly stdin?: boolean; readonly marker?: string; readonly inAction?: boolean }[]
  >
> = {
  'juju-log': [
    { cond: `[ $# -ge 4 ] && { [ "x$1" = 'x--log-level' ] || [ "x$1" = 'x-l' ]; } && [ "x$3" = 'x--' ]` },
    { cond: `[ $# -ge 2 ] && [ "x$1" = 'x--' ]` },
  ],
  'status-set': [
    {
      cond:
        `[ $# -eq 4 ] && { [ "x$1" = 'x--application=false' ] || [ "x$1" = 'x--application=true' ]; } && [ "x$3" = 'x--' ]` +
        ` && case $2 in ${STATUSES}) true ;; *) false ;; esac`,
      marker: DIRTY_STATUS,
    },
  ],
  'application-version-set': [{ cond: `[ $# -eq 2 ] && [ "x$1" = 'x--' ]` }],
  'action-log': [{ cond: `[ $# -ge 2 ] && [ "x$1" = 'x--' ]`, inAction: true }],
  'action-fail': [{ cond: `{ [ $# -eq 0 ] || { [ $# -le 2 ] && [ "x$1" = 'x--' ]; }; }`, inAction: true }],
  // Every argument KEY=VALUE with KEY of lowercase letters, digits, inner '-' and '.', and
  // nothing that could be a reserved key: otherwise the Node tool decides.
  'action-set': [{ cond: `[ $# -ge 1 ] && plain_pairs "$@"`, inAction: true }],
  'state-set': [
    { cond: `[ $# -eq 2 ] && [ "x$1" = 'x--file' ] && [ "x$2" = 'x-' ]`, stdin: true, marker: DIRTY_STATE },
    { cond: `[ $# -eq 1 ] && [ "x$1" = 'x--file=-' ]`, stdin: true, marker: DIRTY_STATE },
    { cond: `[ $# -ge 1 ] && key_values "$@"`, marker: DIRTY_STATE },
  ],
  'state-delete': [{ cond: `[ $# -eq 1 ] && case $1 in -* | '') false ;; *) true ;; esac`, marker: DIRTY_STATE }],
};

const HELPERS: Partial<Record<HookToolName, string>> = {
  'action-set': `plain_pairs() {
  for a in "$@"; do
    k=\${a%%=*}
    [ "x$k" != "x$a" ] || return 1
    case $k in
      '' | *[!abcdefghijklmnopqrstuvwxyz0123456789.-]* | [.-]* | *[.-] | *..* | *.-* | *-.* | *stdout* | *stderr*) return 1 ;;
    esac
  done
  return 0
}
`,
  'state-set': `key_values() {
  for a in "$@"; do
    case $a in
      -* | =*) return 1 ;;
      *=*) ;;
      *) return 1 ;;
    esac
  done
  return 0
}
`,
};

function script(
  tool: HookToolName,
  l: FastLayout,
  state: SimState,
  prior: readonly JournalEntry[],
  forms: Map<HookToolName, string[][]>,
): string {
  const out = [prelude(tool, l)];
  const fault = state.faults[tool];
  if (fault) {
    // A fault forces the outcome of every call.
    const a = answer(state, tool, []);
    out.push('{', ...emit(l, a, `record ${a.exit} 0 "$@"`), '}', '');
    return out.join('\n');
  }
  if (QUERY_TOOLS.has(tool)) {
    if (tool === 'status-get') out.push(`[ ! -e "$R/${DIRTY_STATUS}" ] || fallback "$@"`);
    if (tool === 'state-get') out.push(`[ ! -e "$R/${DIRTY_STATE}" ] || fallback "$@"`);
    const seen = new Set<string>();
    for (const argv of forms.get(tool) ?? []) {
      const id = JSON.stringify(argv);
      if (seen.has(id)) continue;
      seen.add(id);
      const a = answer(state, tool, argv, { env: ENV_A, prior: () => prior });
      if (!same(a, answer(state, tool, argv, { env: ENV_B, prior: () => prior }))) continue;
      out.push(`if ${argvTest(argv)}; then`, ...emit(l, a, `record ${a.exit} 0 "$@"`), 'fi');
    }
    out.push('fallback "$@"', '');
    return out.join('\n');
  }
  const helper = HELPERS[tool];
  if (helper) out.push(helper);
  for (const shape of SHAPES[tool] ?? []) {
    if (shape.inAction && state.action === null) continue;
    out.push(`if ${shape.cond}; then`, `  record 0 ${shape.stdin ? 1 : 0} "$@"`);
    if (shape.marker) out.push(`  : >"$R/${shape.marker}"`);
    out.push('  exit 0', 'fi');
  }
  out.push('fallback "$@"', '');
  return out.join('\n');
}

function writeExecutable(path: string, text: string, written: Map<string, string>): void {
  if (written.get(path) === text && existsSync(path)) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  written.set(path, text);
}

/** Empty the raw journal directory (records, stdin captures, markers, the sequence hint). */
export function clearRaw(rawDir: string): void {
  mkdirSync(rawDir, { recursive: true });
  for (const name of readdirSync(rawDir)) unlinkSync(join(rawDir, name));
}

/**
 * (Re)write the sh tools and their answer files for `state`. `prior` is what is recorded
 * so far (status-get/state-get fold it); the raw journal must be empty (flushed).
 * `written` remembers the scripts' contents: unchanged scripts are not rewritten.
 */
export function renderFastTools(
  l: FastLayout,
  state: SimState,
  prior: readonly JournalEntry[],
  extras: FastExtras,
  written: Map<string, string>,
): void {
  mkdirSync(join(l.fastDir, 'answers'), { recursive: true });
  mkdirSync(l.rawDir, { recursive: true });
  rmSync(join(l.rawDir, DIRTY_STATUS), { force: true });
  rmSync(join(l.rawDir, DIRTY_STATE), { force: true });
  const forms = queryForms(state, extras);
  for (const tool of l.tools) writeExecutable(join(l.binDir, tool), script(tool, l, state, prior, forms), written);
}
