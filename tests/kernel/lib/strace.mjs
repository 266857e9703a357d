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
  const other = new Set();
  const pending = new Map(); // pid → the execve line strace split with <unfinished ...>
  const exec = (pid, args) => (args.includes(charmMarker) ? other.delete(pid) : other.add(pid));
  for (const l of lines) {
    const start = /^(\d+)\s+execve\((.*)$/.exec(l);
    if (start) {
      if (/\) = 0$/.test(l)) exec(start[1], start[2]);
      else if (l.endsWith('<unfinished ...>')) pending.set(start[1], start[2]);
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. execve resumed>.*= 0$/.exec(l);
    if (resumed && pending.has(resumed[1])) exec(resumed[1], pending.get(resumed[1]));
  }
  const out = [];
  for (const l of lines) {
    const pid = /^(\d+)\s/.exec(l)?.[1];
    if (pid === undefined || other.has(pid)) continue;
    for (const m of l.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(m[1]);
  }
  return out;
}
