/**
 * A fake `ip` for unit tests: a tiny node script written into a temp dir. It
 * records every call (argv + stdin) in calls.jsonl, answers `-V`, answers
 * `-json -batch` lines from responses.json (line text → stdout), fails the
 * first batch line matching a regex like real ip does ("MESSAGE" then
 * "Command failed -:N", exit 1, stop), and answers `vrf exec … ping` from
 * ping.json (target → {stdout, stderr, code}).
 */
import { mkdtemp, readFile, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const dir = __DIR__;
const argv = process.argv.slice(2);
const read = (f, d) => { try { return fs.readFileSync(path.join(dir, f), 'utf8'); } catch { return d; } };
let stdin = '';
if (argv.includes('-batch')) stdin = fs.readFileSync(0, 'utf8');
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ argv, stdin }) + '\\n');
if (argv[0] === '-V') { process.stdout.write(read('version', 'ip utility, iproute2-6.1.0, libbpf 1.1.2') + '\\n'); process.exit(0); }
if (argv.includes('-batch')) {
  const json = argv.includes('-json');
  // 'hang': a change batch never finishes (a test kills it, or its parent, mid-apply).
  if (!json && read('hang', null) !== null) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
  const responses = JSON.parse(read('responses.json', '{}'));
  const fail = read('fail', null);
  const [failRe, failMsg] = fail === null ? [null, null] : fail.split('\\t');
  const force = argv.includes('-force');
  const fam = argv[0] === '-6' || argv[0] === '-4' ? argv[0] + ' ' : '';
  const lines = stdin.split('\\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
  let rc = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (failRe !== null && new RegExp(failRe).test(fam + line)) {
      process.stderr.write((failMsg || 'RTNETLINK answers: File exists') + '\\nCommand failed -:' + (i + 1) + '\\n');
      rc = 1;
      if (!force) process.exit(1);
      continue;
    }
    if (json) process.stdout.write((responses[fam + line] ?? '[]') + '\\n');
  }
  process.exit(rc);
}
if (argv[0] === 'vrf' && argv[1] === 'exec') {
  const ping = JSON.parse(read('ping.json', '{}'));
  const r = ping[argv[argv.length - 1]] ?? { stdout: '', stderr: 'ping: connect: Network is unreachable', code: 2 };
  process.stdout.write(r.stdout || ''); process.stderr.write(r.stderr || '');
  process.exit(r.code ?? 0);
}
process.stderr.write('fake ip: unsupported ' + argv.join(' ') + '\\n');
process.exit(255);
`;

export interface FakeIp {
  readonly dir: string;
  readonly bin: string;
  calls(): Promise<{ argv: string[]; stdin: string }[]>;
  /** Fail the first batch line matching `re` with `message`. */
  failOn(re: string, message?: string): Promise<void>;
  respond(map: Record<string, string>): Promise<void>;
  ping(map: Record<string, { stdout?: string; stderr?: string; code?: number }>): Promise<void>;
  version(v: string): Promise<void>;
  /** Make every change batch (`-batch` without -json) hang for a minute. */
  hang(): Promise<void>;
}

export async function fakeIp(dir?: string): Promise<FakeIp> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'fake-ip-')));
  const bin = join(d, 'ip');
  await writeFile(bin, `#!${process.execPath}\n${SCRIPT.replace('__DIR__', JSON.stringify(d))}`);
  await chmod(bin, 0o755);
  return {
    dir: d,
    bin,
    async calls() {
      const t = await readFile(join(d, 'calls.jsonl'), 'utf8').catch(() => '');
      return t.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
    },
    async failOn(re, message = 'RTNETLINK answers: File exists') {
      await writeFile(join(d, 'fail'), `${re}\t${message}`);
    },
    async respond(map) {
      await writeFile(join(d, 'responses.json'), JSON.stringify(map));
    },
    async ping(map) {
      await writeFile(join(d, 'ping.json'), JSON.stringify(map));
    },
    async version(v) {
      await writeFile(join(d, 'version'), v);
    },
    async hang() {
      await writeFile(join(d, 'hang'), '1');
    },
  };
}
