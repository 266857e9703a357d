/**
 * A fake `ip` for unit tests: a small POSIX sh script written into a temp dir
 * (sh, not node, so each call costs milliseconds on a loaded machine). It
 * records every call (argv + stdin) under calls/, answers `-V`, answers
 * `-json -batch` lines from responses (line text → stdout, prefixed with `-6 `
 * when the process runs with -6). It is strict: a `-json` process whose options
 * are not the ones production observes with (OBSERVE_IP_OPTIONS, `-json -details
 * -Numeric`, plus -4/-6 and -force) fails loudly, and so does a line it has no
 * recording for (exit 255, "fake ip: …" on stderr), so a recorded host can never
 * silently answer `[]`. It fails batch lines matching an extended regex
 * like real ip does ("MESSAGE" then "Command failed -:N", exit 1; stop unless
 * -force), answers `vrf exec … ping` per target, and can hang change batches
 * (`-batch` without -json) so a test can kill an apply half-way.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBSERVE_IP_OPTIONS } from '../../../src/vrf/observe.js';

const SCRIPT = String.raw`
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# The counter is shared by concurrent calls (the charm's memo replays its reads in parallel).
until mkdir "$dir/count.lock" 2>/dev/null; do :; done
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/count"
rmdir "$dir/count.lock"
mkdir -p "$dir/calls"
rec="$dir/calls/$(printf '%06d' "$n")"
printf '%s\n' "$@" > "$rec.argv"
batch=0; json=0; force=0
for a in "$@"; do
  case $a in -batch) batch=1 ;; -json) json=1 ;; -force) force=1 ;; esac
done
if [ "$batch" = 1 ]; then cat > "$rec.stdin"; else : > "$rec.stdin"; fi
if [ "$1" = -V ]; then
  if [ -f "$dir/version" ]; then cat "$dir/version"; echo; else echo 'ip utility, iproute2-6.1.0, libbpf 1.1.2'; fi
  exit 0
fi
if [ "$batch" = 1 ] && [ "$json" = 1 ]; then
  opts=''
  for a in "$@"; do case $a in -4|-6|-force|-batch|-) ;; *) opts="$opts $a" ;; esac; done
  want=$(cat "$dir/json-options")
  if [ "$opts" != " $want" ]; then
    echo "fake ip: ip$opts -batch: the recordings answer ip $want only (what production observes with)" >&2
    exit 255
  fi
fi
if [ "$batch" = 1 ]; then
  if [ "$json" = 0 ] && [ -f "$dir/hang" ]; then sleep 60; fi
  fam=''
  case $1 in -6|-4) fam="$1 " ;; esac
  re=''; msg=''
  if [ -f "$dir/fail.re" ]; then re=$(cat "$dir/fail.re"); msg=$(cat "$dir/fail.msg"); fi
  rc=0; i=0
  while IFS= read -r line || [ -n "$line" ]; do
    i=$((i + 1))
    if [ -n "$re" ] && printf '%s\n' "$fam$line" | grep -Eq -- "$re"; then
      printf '%s\nCommand failed -:%s\n' "$msg" "$i" >&2
      rc=1
      [ "$force" = 1 ] || exit 1
      continue
    fi
    if [ "$json" = 1 ]; then
      f="$dir/resp/$(hex "$fam$line")"
      if [ ! -f "$f" ]; then
        printf 'fake ip: no recording for the batch line "%s"\n' "$fam$line" >&2
        exit 255
      fi
      cat "$f"; echo
    fi
  done < "$rec.stdin"
  exit "$rc"
fi
if [ "$1" = vrf ] && [ "$2" = exec ]; then
  eval "t=\${$#}"
  f="$dir/ping/$(hex "$t")"
  if [ -f "$f.code" ]; then cat "$f.stdout"; cat "$f.stderr" >&2; exit "$(cat "$f.code")"; fi
  echo 'ping: connect: Network is unreachable' >&2
  exit 2
fi
echo "fake ip: unsupported $*" >&2
exit 255
`;

export interface FakeIp {
  readonly dir: string;
  readonly bin: string;
  calls(): Promise<{ argv: string[]; stdin: string }[]>;
  /** Fail batch lines matching the extended regex `re` with `message`. */
  failOn(re: string, message?: string): Promise<void>;
  respond(map: Record<string, string>): Promise<void>;
  ping(map: Record<string, { stdout?: string; stderr?: string; code?: number }>): Promise<void>;
  version(v: string): Promise<void>;
  /** Make every change batch (`-batch` without -json) hang for a minute. */
  hang(): Promise<void>;
}

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface FakeIpOptions {
  /** The options a `-json` process must have (besides -4/-6 and -force); default OBSERVE_IP_OPTIONS. */
  readonly jsonOptions?: readonly string[];
}

export async function fakeIp(dir?: string, o: FakeIpOptions = {}): Promise<FakeIp> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'fake-ip-')));
  const bin = join(d, 'ip');
  await writeFile(join(d, 'json-options'), (o.jsonOptions ?? OBSERVE_IP_OPTIONS).join(' '));
  await writeFile(bin, `#!/bin/sh\ndir=${shQuote(d)}\n${SCRIPT}`);
  await chmod(bin, 0o755);
  return {
    dir: d,
    bin,
    async calls() {
      const names = (await readdir(join(d, 'calls')).catch(() => [] as string[]))
        .filter((n) => n.endsWith('.argv'))
        .sort();
      return Promise.all(
        names.map(async (n) => {
          const base = join(d, 'calls', n.slice(0, -'.argv'.length));
          const argv = (await readFile(`${base}.argv`, 'utf8')).split('\n').slice(0, -1);
          const stdin = await readFile(`${base}.stdin`, 'utf8').catch(() => '');
          return { argv, stdin };
        }),
      );
    },
    async failOn(re, message = 'RTNETLINK answers: File exists') {
      await writeFile(join(d, 'fail.msg'), message);
      await writeFile(join(d, 'fail.re'), re);
    },
    async respond(map) {
      await mkdir(join(d, 'resp'), { recursive: true });
      for (const [line, out] of Object.entries(map)) await writeFile(join(d, 'resp', hex(line)), out);
    },
    async ping(map) {
      await mkdir(join(d, 'ping'), { recursive: true });
      for (const [target, r] of Object.entries(map)) {
        const base = join(d, 'ping', hex(target));
        await writeFile(`${base}.stdout`, r.stdout ?? '');
        await writeFile(`${base}.stderr`, r.stderr ?? '');
        await writeFile(`${base}.code`, String(r.code ?? 0));
      }
    },
    async version(v) {
      await writeFile(join(d, 'version'), v);
    },
    async hang() {
      await writeFile(join(d, 'hang'), '1');
    },
  };
}
