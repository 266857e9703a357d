// An `ip` wrapper for VRF_HOST_IP: records every invocation (argv, and the lines fed to -batch -)
// and then runs the real ip, so that a scenario can count what the charm did to the kernel.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './exec.mjs';

const WRAPPER = `#!/bin/sh
# ip spy (tests/kernel/lib/ipspy.mjs): one record per call, NUL-separated argv then the stdin lines.
dir=\${0%/*}
n=$(date +%s%N)-$$
{ printf '%s\\0' "$@"; } > "$dir/calls/$n.argv"
case " $* " in
  *" -batch "*|*" -b "*) tee "$dir/calls/$n.stdin" | "$dir/real-ip" "$@" ;;
  *) exec "$dir/real-ip" "$@" ;;
esac
`;

/** @typedef {ReturnType<typeof createIpSpy>} IpSpy */

/**
 * @param {string} dir where the wrapper and its records live (e.g. /run/ipspy)
 * @returns {{path: string, calls: () => Array<{argv: string[], lines: string[]}>, reset: () => void}}
 *   path is what to pass as VRF_HOST_IP; calls() lists the invocations in order.
 */
export function createIpSpy(dir = '/run/ipspy') {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'calls'), { recursive: true });
  const real = run(['sh', '-c', 'command -v ip']).stdout.trim();
  if (!real.startsWith('/')) throw new Error(`cannot find the real ip (got ${real})`);
  run(['ln', '-s', real, path.join(dir, 'real-ip')]);
  writeFileSync(path.join(dir, 'ip'), WRAPPER);
  chmodSync(path.join(dir, 'ip'), 0o755);
  const callsDir = path.join(dir, 'calls');
  return {
    path: path.join(dir, 'ip'),
    calls() {
      const names = run(['ls', callsDir])
        .stdout.split('\n')
        .filter((f) => f.endsWith('.argv'))
        .sort();
      return names.map((f) => {
        const argv = readFileSync(path.join(callsDir, f), 'utf8').split('\0').slice(0, -1);
        const stdinFile = path.join(callsDir, f.replace(/\.argv$/, '.stdin'));
        const lines = existsSync(stdinFile)
          ? readFileSync(stdinFile, 'utf8')
              .split('\n')
              .filter((l) => l.trim() !== '')
          : [];
        return { argv, lines };
      });
    },
    reset() {
      rmSync(callsDir, { recursive: true, force: true });
      mkdirSync(callsDir, { recursive: true });
    },
  };
}

/**
 * Calls that may change the kernel: anything but `-json` reads and `route get`/`show`/`list`.
 * @param {readonly {argv: readonly string[], lines: readonly string[]}[]} calls
 */
export function mutatingCalls(calls) {
  /** @param {readonly string[]} words */
  const readOnly = (words) =>
    /^(show|list|lst|get|ls)$/.test(words.find((w, i) => i > 0 && !w.startsWith('-')) ?? 'show');
  /** @type {string[]} */
  const out = [];
  for (const c of calls) {
    const opts = c.argv.filter((a) => a.startsWith('-'));
    const isBatch = opts.includes('-batch') || opts.includes('-b');
    if (isBatch) {
      for (const l of c.lines) if (!readOnly(l.split(/\s+/))) out.push(l);
    } else {
      const words = c.argv.filter((a, i) => !a.startsWith('-') && !['-n', '-netns'].includes(c.argv[i - 1] ?? ''));
      if (words.length && !readOnly(words)) out.push(c.argv.join(' '));
    }
  }
  return out;
}
