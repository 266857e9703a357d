/**
 * The charm's side of the hook memo, with memo.sh run by dash for real: where a unit's record
 * lives, what a record holds for each kind of read the engine made, how a hit compares, and the
 * normaliser of `ip -json` (a property test).
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { memoDir, memoPath, obsoleteMemoPaths, statusMemoryPath } from '../../../src/charm/memo.js';
import {
  CONTENT_LIMIT,
  memoAllowance,
  memoPlan,
  recordingFiles,
  type SpawnCall,
} from '../../../src/charm/recording.js';
import { exists, readdir, readFile, readlink, stat } from '../../../src/vrf/files.js';
import type { CharmHost } from '../../../src/charm/host.js';

const SCRIPT = join(process.cwd(), 'src/charm/memo.sh');

/** dash running `code` after sourcing memo.sh, with `args` as $1...; stdout, or throws with stderr. */
function dash(code: string, args: readonly string[] = [], env: Record<string, string> = {}): string {
  const r = spawnSync('dash', ['-c', `. "$0"; ${code}`, SCRIPT, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dash exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('where a unit keeps its record', () => {
  test('dispatch names it (vrf_memo_locate): one per unit under the host root; none for an unusable environment', () => {
    const at = (env: Record<string, string>) =>
      dash('if vrf_memo_locate; then printf %s "$vrf_memo_path"; else printf none; fi', [], env);
    expect(at({ JUJU_UNIT_NAME: 'vrf-host/0' })).toBe('/var/lib/vrf-host/memo/vrf-host-0.sh');
    expect(at({ JUJU_UNIT_NAME: 'vrf-host-ceph/12', VRF_HOST_ROOT: '/srv/root/' })).toBe(
      '/srv/root/var/lib/vrf-host/memo/vrf-host-ceph-12.sh',
    );
    expect(at({ JUJU_UNIT_NAME: 'vrf-host/0', VRF_HOST_ROOT: 'relative/root' })).toBe('none');
    for (const bad of ['', 'vrf-host', 'vrf-host/x', '../../etc/0', 'a/0/../1', 'Vrf/0', 'a-/0', 'a--b/0', '/0'])
      expect({ bad, got: at({ JUJU_UNIT_NAME: bad }) }).toEqual({ bad, got: 'none' });
  });

  test('the charm takes the path dispatch named; the status memory lives beside it; VRF_HOST_MEMO=0 turns both off', () => {
    const env = { VRF_HOST_MEMO_PATH: '/var/lib/vrf-host/memo/vrf-host-0.sh' };
    expect(memoPath(env)).toBe('/var/lib/vrf-host/memo/vrf-host-0.sh');
    expect(statusMemoryPath(env)).toBe('/var/lib/vrf-host/memo/vrf-host-0.status.json');
    expect(obsoleteMemoPaths(env)).toEqual(['/var/lib/vrf-host/memo/vrf-host-0.json']);
    expect(memoPath({ ...env, VRF_HOST_MEMO: '0' })).toBeNull();
    expect(statusMemoryPath({ ...env, VRF_HOST_MEMO: '0' })).toBeNull();
    expect(memoPath({ VRF_HOST_MEMO_PATH: 'relative.sh' })).toBeNull();
    expect(memoPath({})).toBeNull();
    expect(memoDir(undefined)).toBe('/var/lib/vrf-host/memo');
  });
});

describe('a record and a hit, for every kind of read the engine makes', () => {
  let t: string;
  let ip: string;
  const host = (): CharmHost => ({
    engine: { ipBin: ip, flockBin: '/usr/bin/flock', root: t, procRoot: join(t, 'proc') },
    boot: false,
    bootDisabled: 'test',
    memoScript: SCRIPT,
  });
  const call = (args: string[], stdout: string, input?: string, stderr = ''): SpawnCall => ({
    file: ip,
    args,
    ...(input !== undefined ? { input } : {}),
    result: { exitCode: 0, stdout, stderr },
  });
  const env = (): Record<string, string> => ({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', DEMO: 'x' });
  const ipOut = (t: number, master = 'public') =>
    `[{"ifname":"br0","master":"${master}","linkinfo":{"info_data":{"gc_timer":${t},"stp_state":0}}}]\n`;

  beforeEach(async () => {
    t = await mkdtemp(join(tmpdir(), 'vrf-host-memo-'));
    ip = join(t, 'ip');
    // A fake ip whose answer is in a file (its timer changes by itself: the volatile value).
    await writeFile(ip, `#!/bin/sh\ncat >/dev/null\ncat ${JSON.stringify(join(t, 'ip.out'))}\n`);
    await chmod(ip, 0o755);
    await writeFile(join(t, 'ip.out'), ipOut(12.5));
    await mkdir(join(t, 'etc/netplan'), { recursive: true });
    await writeFile(join(t, 'etc/netplan/50.yaml'), "network: {version: 2} # it's\n");
    await writeFile(join(t, 'sysctl'), '1\n');
    await writeFile(join(t, 'environ'), 'container=lxc\0PATH=/bin\0');
    await mkdir(join(t, 'proc/sys/net/ipv4'), { recursive: true });
    await writeFile(join(t, 'proc/sys/net/ipv4/ip_forward'), '1\n');
    await writeFile(join(t, 'big'), 'x'.repeat(CONTENT_LIMIT + 1));
    await writeFile(join(t, 'unit'), '[Unit]\n');
    await mkdir(join(t, 'wants'));
    await symlink(join(t, 'unit'), join(t, 'wants/vrf-host.service'));
    // Under a test root a wants link names the real /etc path, which does not exist here.
    await symlink(join(t, 'nowhere/vrf-host.service'), join(t, 'wants/dangling.service'));
  });
  afterEach(async () => {
    await rm(t, { recursive: true, force: true });
  });

  /** The engine's reads of the fixture, as recordingFiles sees them. */
  async function engineReads() {
    return recordingFiles(async () => {
      await readFile(join(t, 'sysctl'), 'utf8');
      await readFile(join(t, 'environ'), 'utf8');
      await readFile(join(t, 'proc/sys/net/ipv4/ip_forward'), 'utf8');
      await readdir(join(t, 'etc/netplan'));
      await readFile(join(t, 'etc/netplan/50.yaml'));
      await readFile(join(t, 'big'));
      await readFile(join(t, 'absent')).catch(() => null);
      await stat(join(t, 'unit'));
      await readlink(join(t, 'wants/vrf-host.service'));
      await readlink(join(t, 'wants/dangling.service'));
      await exists(join(t, 'container'));
      await readFile(join(t, 'sysctl'), 'utf8');
    });
  }

  async function record(): Promise<string> {
    const { reads } = await engineReads();
    const a = memoAllowance(
      [call(['-json', '-batch', '-'], await readFileText(join(t, 'ip.out')), 'link show\n')],
      host(),
      reads(),
    );
    if (a === null) throw new Error('not recordable');
    const r = await a.record({ hook: 'update-status', env: env() });
    if (!('text' in r)) throw new Error(r.unrecordable);
    await writeFile(join(t, 'rec.sh'), r.text);
    return r.text;
  }
  const readFileText = (p: string) => readFile(p, 'utf8');
  /** What dispatch decides now: 'hit', or the reason of the miss. */
  const hit = (hook = 'update-status') =>
    dash('if vrf_memo_hit "$1" "$2"; then printf hit; else printf %s "$vrf_memo_why"; fi', [join(t, 'rec.sh'), hook], {
      ...env(),
    });

  test('a record of a run that only read: each read is one probe, the large file by type only', async () => {
    const text = await record();
    expect(text.match(/^ {2}vrf_memo_\w+ '[^']*'/gm)?.map((l) => l.slice(2).replace(t, ''))).toEqual([
      "vrf_memo_file '/sysctl'",
      "vrf_memo_file '/environ'",
      "vrf_memo_sysctl '/proc/sys/net/ipv4/ip_forward'",
      "vrf_memo_names '/etc/netplan'",
      "vrf_memo_file '/etc/netplan/50.yaml'",
      "vrf_memo_kind '/big'",
      "vrf_memo_file '/absent'",
      "vrf_memo_kind '/unit'",
      "vrf_memo_link '/wants/vrf-host.service'",
      "vrf_memo_link '/wants/dangling.service'",
      "vrf_memo_exists '/container'",
      "vrf_memo_ip 'LC_ALL=C'",
    ]);
    expect(text).toMatch(/^vrf_memo_rec_hook='update-status'$/m);
    expect(text).toMatch(/^vrf_memo_rec_age=7200$/m);
    expect(text).toMatch(/^vrf_memo_want_5='file:network: \{version: 2\} # it'\\''s\n'$/m);
    expect(text.endsWith('vrf_memo_rec_complete=1\n')).toBe(true);
  });

  test('a hit when nothing changed (a bridge timer moved), a miss naming the read that changed', async () => {
    await record();
    expect(hit()).toBe('hit');
    await writeFile(join(t, 'ip.out'), ipOut(3.25));
    expect(hit()).toBe('hit');
    expect(hit('config-changed')).toBe('the record is for update-status');
    const changes: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      [
        'ip read 12 changed',
        () => writeFile(join(t, 'ip.out'), ipOut(1, 'storage')),
        () => writeFile(join(t, 'ip.out'), ipOut(1)),
      ],
      [`${t}/sysctl changed`, () => writeFile(join(t, 'sysctl'), '0\n'), () => writeFile(join(t, 'sysctl'), '1\n')],
      [
        // A sysctl by its first character: all dash's read gets of one from the kernel.
        `${t}/proc/sys/net/ipv4/ip_forward changed`,
        () => writeFile(join(t, 'proc/sys/net/ipv4/ip_forward'), '0\n'),
        () => writeFile(join(t, 'proc/sys/net/ipv4/ip_forward'), '1\n'),
      ],
      [
        `${t}/environ changed`,
        () => writeFile(join(t, 'environ'), 'container=lxd\0PATH=/bin\0'),
        () => writeFile(join(t, 'environ'), 'container=lxc\0PATH=/bin\0'),
      ],
      [
        `${t}/etc/netplan/ changed`,
        () => writeFile(join(t, 'etc/netplan/60.yaml'), ''),
        () => rm(join(t, 'etc/netplan/60.yaml')),
      ],
      [
        `${t}/big changed`,
        () => writeFile(join(t, 'big'), ''),
        () => writeFile(join(t, 'big'), 'y'.repeat(CONTENT_LIMIT + 1)),
      ],
      [`${t}/absent changed`, () => writeFile(join(t, 'absent'), ''), () => rm(join(t, 'absent'))],
      [`${t}/unit changed`, () => rm(join(t, 'unit')), () => writeFile(join(t, 'unit'), '[Unit]\n')],
      [
        `${t}/wants/vrf-host.service changed`,
        async () => {
          await rm(join(t, 'wants/vrf-host.service'));
          await symlink(join(t, 'big'), join(t, 'wants/vrf-host.service'));
        },
        async () => {
          await rm(join(t, 'wants/vrf-host.service'));
          await symlink(join(t, 'unit'), join(t, 'wants/vrf-host.service'));
        },
      ],
      [
        `${t}/wants/dangling.service changed`,
        async () => {
          await rm(join(t, 'wants/dangling.service'));
          await symlink(join(t, 'unit'), join(t, 'wants/dangling.service'));
        },
        async () => {
          await rm(join(t, 'wants/dangling.service'));
          await symlink(join(t, 'nowhere/vrf-host.service'), join(t, 'wants/dangling.service'));
        },
      ],
      [`${t}/container changed`, () => writeFile(join(t, 'container'), 'lxc'), () => rm(join(t, 'container'))],
    ];
    for (const [why, change, back] of changes) {
      await change();
      expect({ why, got: hit() }).toEqual({ why, got: why });
      await back();
      expect({ why, back: hit() }).toEqual({ why, back: 'hit' });
    }
    // The environment is an input too.
    expect(
      dash('if vrf_memo_hit "$1" update-status; then echo hit; else echo "$vrf_memo_why"; fi', [join(t, 'rec.sh')], {
        ...env(),
        DEMO: 'y',
      }).trim(),
    ).toBe('ip read 12 changed');
  });

  test('another build, an old record, another boot, a torn record: a miss that says so', async () => {
    const text = await record();
    const variant = async (v: string) => writeFile(join(t, 'rec.sh'), v);
    await variant(text.replace(/^vrf_memo_rec_build=.*$/m, "vrf_memo_rec_build='other'"));
    expect(hit()).toBe('the charm changed');
    await variant(text.replace(/^vrf_memo_rec_up=(\d+)$/m, (_, up: string) => `vrf_memo_rec_up=${Number(up) - 7201}`));
    expect(hit()).toBe('the record is older than 120 min');
    await variant(text.replace(/^vrf_memo_rec_boot=.*$/m, "vrf_memo_rec_boot='another-boot'"));
    expect(hit()).toBe('the machine booted since');
    await variant(text.slice(0, text.length / 2));
    expect(hit()).toBe('the record is incomplete');
    await variant(text.replace('vrf_memo_rec_complete=1\n', ''));
    expect(hit()).toBe('the record is incomplete');
    await rm(join(t, 'rec.sh'));
    expect(hit()).toBe('no record');
  });

  test('not recordable: an ip read that wrote to stderr, a file that is not UTF-8, a read that changed during the run', async () => {
    const { reads } = await engineReads();
    expect(memoPlan([call(['-json'], '[]', undefined, 'Warning')], reads())).toEqual({
      unrecordable: `${ip} -json wrote to stderr`,
    });
    await writeFile(join(t, 'bin'), Buffer.from([0x41, 0xff, 0x42]));
    const bin = await recordingFiles(() => readFile(join(t, 'bin')));
    expect(memoPlan([], bin.reads())).toEqual({ unrecordable: `${t}/bin is not UTF-8 text` });
    const twice = await recordingFiles(async () => {
      await readFile(join(t, 'sysctl'));
      await writeFile(join(t, 'sysctl'), '0\n');
      await readFile(join(t, 'sysctl'));
    });
    expect(memoPlan([], twice.reads())).toEqual({ unrecordable: `${t}/sysctl changed during the run` });
  });

  test('a run that applied, loaded a module or ran anything else is not recordable', () => {
    const other = (file: string, args: string[]): SpawnCall => ({
      file,
      args,
      result: { exitCode: 0, stdout: '', stderr: '' },
    });
    expect(memoAllowance([other(ip, ['-batch', '-'])], host(), [])).toBeNull();
    expect(memoAllowance([other('modprobe', ['vrf'])], host(), [])).toBeNull();
    expect(memoAllowance([other('/bin/ip', ['-json', 'link', 'show'])], host(), [])).toBeNull(); // not the configured ip
    expect(memoAllowance([other('/usr/bin/flock', ['-x', '3'])], host(), [])).not.toBeNull();
    const { memoScript: _script, ...noScript } = host();
    expect(memoAllowance([], noScript, [])).toBeNull();
  });

  test('file names and contents are data, never code: any name or text records, hits, and a change misses', async () => {
    // The plan is sh that names the engine's paths; quotes, $( ), backquotes, globs and newlines in
    // a name or a file's text must neither run nor break the record. The payloads create a file
    // PWNED in dash's working directory (a name cannot hold a '/').
    const pwned = join(process.cwd(), 'PWNED');
    const char = fc.constantFrom('a', "'", '"', '$', '(', ')', '`', ';', ' ', '\\', '*', '?', '\n', '|', '&', '-');
    const name = fc
      .string({ unit: char, minLength: 1, maxLength: 8 })
      .map((s) => `n${s}`)
      .chain((s) => fc.constantFrom(s, `${s}$(touch PWNED)`, `${s}\`touch PWNED\``, `${s}';touch PWNED;'`));
    const text = fc.string({ unit: char, maxLength: 20 }).chain((s) => fc.constantFrom(s, `${s}'$(touch PWNED)'`));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 1, maxLength: 3 }), text, async (names, body) => {
        const dir = join(t, 'etc/netplan');
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        for (const n of names) await writeFile(join(dir, n), body);
        const { reads } = await recordingFiles(async () => {
          for (const n of await readdir(dir)) await readFile(join(dir, n));
        });
        const a = memoAllowance([], host(), reads());
        if (a === null) throw new Error('not recordable');
        const r = await a.record({ hook: 'update-status', env: env() });
        if (!('text' in r)) throw new Error(r.unrecordable);
        await writeFile(join(t, 'rec.sh'), r.text);
        expect(hit()).toBe('hit');
        const first = names[0] ?? '';
        await writeFile(join(dir, first), `${body}x`);
        expect(hit()).toBe(`${join(dir, first)} changed`);
        await rm(join(dir, first));
        expect(hit()).toBe(`${dir}/ changed`);
        await expect(stat(pwned)).rejects.toThrow();
      }),
      { numRuns: 25 },
    );
    // 75 dash processes: past jest's default 5 s on a loaded 2-core machine (seen at load 15-18).
  }, 120_000);

  test('reads made outside the recorded run are not part of it, even concurrently', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const outside = (async () => {
      await gate;
      await readFile(join(t, 'sysctl'), 'utf8');
    })();
    const { reads } = await recordingFiles(async () => {
      release();
      await outside;
      await readdir(join(t, 'etc/netplan'));
    });
    expect(reads().map((r) => `${r.kind} ${r.path}`)).toEqual([`names ${t}/etc/netplan`]);
  });
});

describe('the ip -json normaliser (vrf_memo_stable), dash for real', () => {
  const VOLATILE = [
    'gc_timer',
    'hello_timer',
    'forward_delay_timer',
    'valid_life_time',
    'preferred_life_time',
    'expires',
    'age',
    'used',
    'lastused',
    'updated',
  ];
  const KEYS = [
    'ifname',
    'master',
    'local',
    'dst',
    'gateway',
    'table',
    'timer',
    'mtu',
    'flags',
    'address',
    'expire',
    'stp_state',
  ];
  const PH = '@@volatile@@';
  const leaf = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', ':', '"', ',', '}', ']', '\\', '{', ' ', 'é', '_timer', 'expires') }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('fe80::1', '2001:db8::1/64', '00:11:22:33:44:55'),
  );
  const { doc } = fc.letrec<{ doc: unknown; value: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, tie('doc'), fc.array(tie('value'), { maxLength: 3 })),
    doc: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS, ...VOLATILE), fc.string({ maxLength: 6 })), tie('value'), {
      maxKeys: 5,
    }),
  }));
  const isVolatile = (k: string) => VOLATILE.includes(k) || k.endsWith('_timer');
  /** Volatile keys get a number (what ip writes there). */
  const numbersAtVolatile = (v: unknown, n: number): unknown => {
    if (Array.isArray(v)) return v.map((x) => numbersAtVolatile(x, n));
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isVolatile(k) ? n : numbersAtVolatile(x, n)]));
  };
  /** The expected form: the JSON text with each volatile key's value left out. */
  const blanked = (v: unknown): string =>
    JSON.stringify(v, (k, x: unknown) => (k !== '' && isVolatile(k) ? PH : x))
      .split(`"${PH}"`)
      .join('');
  // dash has no JSON: each output goes back as a JSON string through this small function.
  const quoteFn =
    'node_json() { o=$vrf_memo_s; r=; while [ -n "$o" ]; do c=${o%"${o#?}"}; o=${o#?}; case $c in \\"|\\\\) r="$r\\\\$c";; *) r=$r$c;; esac; done; printf "\\"%s\\"" "$r"; }; ';

  test('volatile values are left out, everything else is kept as it is; a changed value elsewhere always shows', () => {
    fc.assert(
      fc.property(doc, fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }), (d, a, b) => {
        const x = numbersAtVolatile(d, a);
        const y = numbersAtVolatile(d, b + 0.5);
        const [sx, sy] = JSON.parse(
          dash(
            `${quoteFn}printf "["; sep=; for x do vrf_memo_stable "$x"; printf "%s" "$sep"; node_json; sep=,; done; printf "]"`,
            [JSON.stringify(x), JSON.stringify(y)],
          ),
        ) as [string, string];
        expect(sx).toBe(blanked(x));
        expect(sy).toBe(sx);
      }),
      { numRuns: 60 },
    );
  });

  test('a non-volatile value that changed is never blanked away', () => {
    fc.assert(
      fc.property(doc, leaf, leaf, fc.constantFrom(...KEYS), (d, v1, v2, key) => {
        fc.pre(JSON.stringify(v1) !== JSON.stringify(v2));
        const x = numbersAtVolatile({ ...(d as object), [key]: v1 }, 1);
        const y = numbersAtVolatile({ ...(d as object), [key]: v2 }, 1);
        const [sx, sy] = JSON.parse(
          dash(
            `${quoteFn}printf "["; sep=; for x do vrf_memo_stable "$x"; printf "%s" "$sep"; node_json; sep=,; done; printf "]"`,
            [JSON.stringify(x), JSON.stringify(y)],
          ),
        ) as [string, string];
        expect(sx).not.toBe(sy);
      }),
      { numRuns: 60 },
    );
  });
});
