// Reading `strace -f -e trace=%file -s 4096` output ("PID<spaces>syscall(...)"): which paths a traced charm opened itself.

/**
 * The quoted path arguments of every syscall line, except those of processes that exec'd
 * something else than the charm (`ip`, hook tools, the ip spy's sh and tee: what they read is
 * theirs; ip's own output is compared by the memo). A thread never execs, so the charm's libuv
 * threads (where Node does its file I/O) count as the charm.
 * @param {string} text the trace
 * @param {string} charmMarker a string of the charm's node execve line (e.g. 'dist/launch.cjs')
 */
export function charmPaths(text, charmMarker) {
  const lines = text.split('\n');
  /** @type {Set<string>} */
  const other = new Set();
  /** @type {Map<string, string>} pid → the execve line strace split with <unfinished ...> */
  const pending = new Map();
  /**
   * @param {string} pid
   * @param {string} args
   */
  const exec = (pid, args) => (args.includes(charmMarker) ? other.delete(pid) : other.add(pid));
  for (const l of lines) {
    const start = /^(\d+)\s+execve\((.*)$/.exec(l);
    if (start) {
      const [, pid = '', args = ''] = start;
      if (/\) = 0$/.test(l)) exec(pid, args);
      else if (l.endsWith('<unfinished ...>')) pending.set(pid, args);
      continue;
    }
    const [, resumedPid = ''] = /^(\d+)\s+<\.\.\. execve resumed>.*= 0$/.exec(l) ?? [];
    const args = pending.get(resumedPid);
    if (args !== undefined) exec(resumedPid, args);
  }
  /** @type {string[]} */
  const out = [];
  for (const l of lines) {
    const pid = /^(\d+)\s/.exec(l)?.[1];
    if (pid === undefined || other.has(pid)) continue;
    for (const m of l.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(m[1] ?? '');
  }
  return out;
}

/**
 * The paths a hook memo record (src/charm/memo.sh) checks: its plan's probes of files, stats,
 * links, existences and directory listings, one per line, each path the first single-quoted word.
 * @param {string} record the record's text
 */
export function memoWatched(record) {
  return [...record.matchAll(/^ {2}vrf_memo_(?:file|sysctl|kind|exists|link|names) '((?:[^']|'\\'')*)'/gm)].map((m) =>
    (m[1] ?? '').replace(/'\\''/g, "'"),
  );
}
