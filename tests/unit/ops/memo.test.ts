import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  captureFiles,
  fileState,
  makeRecord,
  MEMO_VERSION,
  memoEnv,
  parseMemoRecord,
  replayMemo,
  unrecordableCall,
  writeMemo,
  type MemoRecord,
  type RecordedRead,
  type ReplayOptions,
} from '../../../src/ops/memo.js';
import {
  dispatch,
  CharmBase,
  Status,
  type Framework,
  type ProcessCall,
  type RawResult,
} from '../../../src/ops/index.js';
import { charmSpecFrom } from '../../../src/ops/charmspec.js';
import { FakeJuju } from '../../../src/ops/testing/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ops-memo-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ok = (stdout: string): RawResult => ({ exitCode: 0, stdout, stderr: '' });

/** A fake process table: argv joined by spaces → result; records every call. */
function fakeRun(table: Record<string, RawResult>) {
  const calls: ProcessCall[] = [];
  const run: ReplayOptions['run'] = (c) => {
    calls.push(c);
    const r = table[c.argv.join(' ')];
    return r ?? { exitCode: -1, stdout: '', stderr: '', spawnError: `${c.argv[0]}: ENOENT` };
  };
  return { run, calls };
}

const READS: RecordedRead[] = [
  {
    argv: ['/usr/sbin/ip', '-json', '-batch', '-'],
    input: 'link show\n',
    env: { LC_ALL: 'C' },
    exitCode: 0,
    stdout: '[]\n',
    stderr: '',
  },
];
const TABLE: Record<string, RawResult> = {
  'config-get --all --format=json': ok('{"strict":true}\n'),
  'network-get public --format=json': ok('{"bind-addresses":[]}\n'),
  '/usr/sbin/ip -json -batch -': ok('[]\n'),
  'status-set --application=false active -- 2 VRFs': ok(''),
};
const ENV = { JUJU_UNIT_NAME: 'vrf-host/0', JUJU_CONTEXT_ID: 'vrf-host/0-update-status-1', PATH: '/usr/bin' };

function recordAt(path: string, over: Partial<Parameters<typeof makeRecord>[0]> = {}): MemoRecord {
  const rec = makeRecord({
    build: 'b1',
    hook: 'update-status',
    env: ENV,
    reads: READS,
    files: captureFiles([{ path: join(dir, 'state.json'), how: 'stat' }]),
    now: 1_000_000,
    ...over,
  });
  if (rec === null) throw new Error('a file changed under the test');
  writeMemo(path, rec);
  return rec;
}

const replayOpts = (run: ReplayOptions['run'], over: Partial<ReplayOptions> = {}): ReplayOptions => ({
  allowRead: (r) => ['ip', '/usr/sbin/ip'].includes(r.argv[0] ?? ''),
  build: 'b1',
  hook: 'update-status',
  env: { ...ENV, JUJU_CONTEXT_ID: 'vrf-host/0-update-status-2' },
  maxAgeMs: 60_000,
  run,
  now: 1_030_000,
  ...over,
});

describe('replayMemo', () => {
  test('a hit: the recorded processes answer as recorded, and nothing else runs (no hook tool)', async () => {
    await writeFile(join(dir, 'state.json'), '{}');
    const path = join(dir, 'memo', 'u.json');
    recordAt(path);
    const { run, calls } = fakeRun(TABLE);
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: true });
    expect(calls.map((c) => c.argv.join(' '))).toEqual(['/usr/sbin/ip -json -batch -']);
    // The ip read gets its stdin and environment back.
    expect(calls[0]).toMatchObject({ input: 'link show\n', env: { LC_ALL: 'C' } });
  });

  test.each([
    [
      'ip answers differently',
      { ...TABLE, '/usr/sbin/ip -json -batch -': ok('[{}]\n') },
      '/usr/sbin/ip -json -batch - answered differently',
    ],
    [
      'ip exits differently',
      { ...TABLE, '/usr/sbin/ip -json -batch -': { exitCode: 1, stdout: '[]\n', stderr: '' } },
      '/usr/sbin/ip -json -batch - answered differently',
    ],
  ])('a miss when %s', async (_what, table, reason) => {
    await writeFile(join(dir, 'state.json'), '{}');
    const path = join(dir, 'u.json');
    recordAt(path);
    const { run } = fakeRun(table);
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason });
  });

  test('a miss, before any process runs, for another build, hook, an old record, a changed environment', () => {
    const path = join(dir, 'u.json');
    recordAt(path);
    const { run, calls } = fakeRun(TABLE);
    expect(replayMemo(path, replayOpts(run, { build: 'b2' }))).toEqual({
      hit: false,
      reason: 'the charm changed',
    });
    expect(replayMemo(path, replayOpts(run, { hook: 'start' }))).toEqual({
      hit: false,
      reason: 'record is for update-status',
    });
    expect(replayMemo(path, replayOpts(run, { now: 1_000_000 + 61_000 }))).toEqual({
      hit: false,
      reason: 'record older than 1 min',
    });
    expect(replayMemo(path, replayOpts(run, { now: 999_000 }))).toMatchObject({ hit: false });
    expect(replayMemo(path, replayOpts(run, { env: { ...ENV, PATH: '/bin' } }))).toEqual({
      hit: false,
      reason: 'environment changed: PATH',
    });
    expect(replayMemo(path, replayOpts(run, { env: { ...ENV, VRF_HOST_ROOT: '/x' } }))).toEqual({
      hit: false,
      reason: 'environment changed: VRF_HOST_ROOT',
    });
    expect(calls).toEqual([]);
    // What changes with every dispatch (or with the shell that started it) is no input.
    expect(replayMemo(path, replayOpts(run, { env: { ...ENV, JUJU_CONTEXT_ID: 'x', PWD: '/y', SHLVL: '2' } }))).toEqual(
      { hit: true },
    );
  });

  test('a miss when a watched file changes, appears or goes away', async () => {
    const f = join(dir, 'state.json');
    await writeFile(f, '{"a":1}');
    const path = join(dir, 'u.json');
    recordAt(path);
    const { run } = fakeRun(TABLE);
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: true });
    await writeFile(f, '{"a":2}');
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason: `${f} changed` });
    recordAt(path);
    await rm(f);
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason: `${f} changed` });
  });

  test('a record naming a process that is no known read (a hook tool among them) runs nothing', () => {
    const path = join(dir, 'u.json');
    const { run, calls } = fakeRun(TABLE);
    recordAt(path, {
      reads: [{ argv: ['rm', '-rf', '/x'], exitCode: 0, stdout: '', stderr: '' }],
      files: [],
    });
    expect(replayMemo(path, replayOpts(run))).toEqual({
      hit: false,
      reason: 'record names a process that is not a known read: rm',
    });
    recordAt(path, {
      reads: [{ argv: ['config-get', '--all', '--format=json'], exitCode: 0, stdout: '{}', stderr: '' }],
      files: [],
    });
    expect(replayMemo(path, replayOpts(run))).toEqual({
      hit: false,
      reason: 'record names a process that is not a known read: config-get',
    });
    recordAt(path, { reads: READS, files: [] });
    expect(replayMemo(path, replayOpts(run, { allowRead: () => false }))).toEqual({
      hit: false,
      reason: 'record names a process that is not a known read: /usr/sbin/ip',
    });
    expect(calls).toEqual([]);
  });

  test('no record, an unreadable one, one of another shape: a miss that says so', async () => {
    const { run } = fakeRun(TABLE);
    const path = join(dir, 'u.json');
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason: 'no record' });
    await writeFile(path, '{"version":1,');
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason: 'record is not JSON' });
    await writeFile(
      path,
      JSON.stringify({
        version: 2,
        build: 'b1',
        hook: 'update-status',
        created: 1,
        env: {},
        reads: [{ argv: 'ip' }],
        files: [],
      }),
    );
    expect(replayMemo(path, replayOpts(run))).toEqual({ hit: false, reason: 'record has an unknown shape' });
  });
});

describe('parseMemoRecord (the launcher reads the record without zod)', () => {
  const text = fc.string({ maxLength: 8 });
  const dict = fc.dictionary(text, text, { maxKeys: 3 });
  const read: fc.Arbitrary<RecordedRead> = fc.record(
    {
      argv: fc.array(text, { maxLength: 4 }),
      input: text,
      env: dict,
      normalize: text,
      exitCode: fc.integer({ min: -1, max: 255 }),
      stdout: text,
      stderr: text,
    },
    { requiredKeys: ['argv', 'exitCode', 'stdout', 'stderr'] },
  );
  const record: fc.Arbitrary<MemoRecord> = fc.record({
    version: fc.constant(MEMO_VERSION),
    build: text,
    hook: text,
    created: fc.integer({ min: 0 }),
    env: dict,
    reads: fc.array(read, { maxLength: 3 }),
    files: fc.array(fc.record({ path: text, how: fc.constantFrom('content' as const, 'stat' as const), state: text }), {
      maxLength: 3,
    }),
  });

  test('every record writeMemo can write reads back as it was', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(parseMemoRecord(JSON.parse(JSON.stringify(r)))).toEqual(r);
      }),
    );
  });

  /** Every path to a value in `x` (objects and arrays), with the value. */
  function* leaves(x: unknown, at: (string | number)[] = []): Generator<(string | number)[]> {
    if (at.length > 0) yield at;
    if (Array.isArray(x)) for (const [i, v] of x.entries()) yield* leaves(v, [...at, i]);
    else if (typeof x === 'object' && x !== null) for (const [k, v] of Object.entries(x)) yield* leaves(v, [...at, k]);
  }
  function replaced(x: unknown, at: readonly (string | number)[], value: unknown): unknown {
    const [head, ...rest] = at;
    if (head === undefined) return value;
    if (Array.isArray(x)) {
      const items: unknown[] = x;
      return items.map((v, i) => (i === head ? replaced(v, rest, value) : v));
    }
    if (typeof x === 'object' && x !== null)
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, k === head ? replaced(v, rest, value) : v]));
    return x;
  }

  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

  test('a value of the wrong type anywhere, or a missing field, is no record', () => {
    fc.assert(
      fc.property(record, fc.constantFrom(1, 'x', null, true, [], {}), fc.nat(), (r, wrong, pick) => {
        const json: unknown = JSON.parse(JSON.stringify(r));
        const paths = [...leaves(json)];
        const at = paths[pick % paths.length]!;
        const value: unknown = at.reduce<unknown>(
          (v, k) => (typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined),
          json,
        );
        // Another kind of JSON value where the record has this one (a string for a string is no corruption).
        fc.pre(kind(value) !== kind(wrong));
        expect(parseMemoRecord(replaced(json, at, wrong))).toBeNull();
      }),
    );
    for (const k of ['version', 'build', 'hook', 'created', 'env', 'reads', 'files'])
      expect(parseMemoRecord({ ...JSON.parse(JSON.stringify(recordOf())), [k]: undefined })).toBeNull();
    expect(parseMemoRecord({ ...recordOf(), version: MEMO_VERSION + 1 })).toBeNull();
    expect(parseMemoRecord([])).toBeNull();
  });

  const recordOf = (): MemoRecord => ({
    version: MEMO_VERSION,
    build: 'b',
    hook: 'update-status',
    created: 1,
    env: {},
    reads: READS,
    files: [],
  });
});

describe('fileState', () => {
  test('content, stat identity, directories, symlinks and absence', async () => {
    const f = join(dir, 'f');
    await writeFile(f, 'one');
    const content = fileState({ path: f, how: 'content' });
    expect(content).toBe('file:one');
    const stat1 = fileState({ path: f, how: 'stat' });
    expect(stat1).toMatch(/^file:/);
    expect(fileState({ path: f, how: 'stat' })).toBe(stat1);
    await chmod(f, 0o600);
    expect(fileState({ path: f, how: 'stat' })).not.toBe(stat1); // ctime and mode
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'd', 'b'), '');
    await writeFile(join(dir, 'd', 'a'), '');
    expect(fileState({ path: join(dir, 'd'), how: 'content' })).toBe('dir:a\nb');
    await symlink('/nonexistent/target', join(dir, 'l'));
    expect(fileState({ path: join(dir, 'l'), how: 'stat' })).toMatch(/^link:.*:\/nonexistent\/target:dangling$/);
    // A link to a file: the target's change shows (readers follow the link).
    await symlink(f, join(dir, 'lf'));
    const viaLink = fileState({ path: join(dir, 'lf'), how: 'stat' });
    await writeFile(f, 'two');
    expect(fileState({ path: join(dir, 'lf'), how: 'stat' })).not.toBe(viaLink);
    expect(fileState({ path: join(dir, 'nope'), how: 'stat' })).toBe('absent');
    expect(fileState({ path: join(dir, 'nope'), how: 'content' })).toBe('absent');
    expect(fileState({ path: join(f, 'under-a-file'), how: 'content' })).toBe('absent');
  });
});

describe('unrecordableCall and memoEnv', () => {
  const call = (argv: string[], exitCode = 0) => ({ argv, exitCode, stdout: 'out', stderr: '' });
  test('reads, one status and the log are recordable', () => {
    expect(
      unrecordableCall([
        call(['juju-log', '--log-level', 'DEBUG', '--', 'x']),
        call(['config-get', '--all', '--format=json']),
        call(['network-get', 'public', '--format=json']),
        call(['status-set', '--application=false', 'active', '--', 'ok']),
      ]),
    ).toBeNull();
  });
  test('a run that wrote anything else, set more than one status, or whose status-set failed, is not recordable', () => {
    expect(
      unrecordableCall([call(['status-set', 'maintenance', 'applying']), call(['status-set', 'active', 'x'])]),
    ).toBe('more than one status-set');
    expect(unrecordableCall([call(['state-set', '--file', '-'])])).toContain('state-set');
    expect(unrecordableCall([call(['action-set', 'a=b'])])).toContain('action-set');
    expect(unrecordableCall([call(['status-set', 'active', 'x'], 1)])).toBe('status-set failed');
  });
  test('memoEnv drops what changes with every dispatch and sorts the rest', () => {
    expect(
      Object.keys(
        memoEnv({ Z: '1', JUJU_CONTEXT_ID: 'c', JUJU_DISPATCH_PATH: 'hooks/x', A: '2', PWD: '/', U: undefined }),
      ),
    ).toEqual(['A', 'Z']);
  });
});

describe('dispatch with a memo', () => {
  const spec = charmSpecFrom({
    name: 'demo',
    subordinate: true,
    requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
  });
  const env = { JUJU_UNIT_NAME: 'demo/0', JUJU_DISPATCH_PATH: 'hooks/update-status', JUJU_CHARM_DIR: '/nonexistent' };

  function charm(opts: { allow: boolean; changeUnder?: boolean }) {
    return class extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('update-status', async () => {
          await this.model.getConfig();
          if (opts.allow)
            framework.memo.allow({
              files: captureFiles([{ path: join(dir, 'watched'), how: 'content' }]),
              reads: [READS[0]!],
            });
          if (opts.changeUnder === true) await writeFile(join(dir, 'watched'), 'changed under the run');
        });
        framework.observe('collect-status', (e) => e.addStatus(Status.active('fine')));
      }
    };
  }

  test('a recordable update-status writes the record: the processes the charm read with and the files it read, no hook tool', async () => {
    await writeFile(join(dir, 'watched'), 'w');
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: { config: { strict: true } } });
    const path = join(dir, 'memo.json');
    const code = await dispatch(charm({ allow: true }), {
      env,
      run: fake.run,
      spec,
      memo: { path, build: 'b', hooks: ['update-status'] },
    });
    expect(code).toBe(0);
    const rec = JSON.parse(await readFile(path, 'utf8')) as MemoRecord;
    expect(rec).toMatchObject({ version: 2, build: 'b', hook: 'update-status', env: memoEnv(env) });
    expect(rec.reads.map((r) => r.argv[0])).toEqual(['/usr/sbin/ip']);
    expect(rec.files).toEqual([{ path: join(dir, 'watched'), how: 'content', state: 'file:w' }]);
    expect(Object.keys(rec).sort()).toEqual(['build', 'created', 'env', 'files', 'hook', 'reads', 'version']);
  });

  test('no record when a file the run read changed before the run ended', async () => {
    await writeFile(join(dir, 'watched'), 'w');
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    const path = join(dir, 'memo.json');
    await dispatch(charm({ allow: true, changeUnder: true }), {
      env,
      run: fake.run,
      spec,
      memo: { path, build: 'b', hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
  });

  test('no record when the charm does not allow it, for another hook, or without a path; an old one is removed first', async () => {
    const path = join(dir, 'memo.json');
    const fake = () => new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    await writeFile(path, 'stale');
    await dispatch(charm({ allow: false }), {
      env,
      run: fake().run,
      spec,
      memo: { path, build: 'b', hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
    await dispatch(charm({ allow: true }), {
      env: { ...env, JUJU_DISPATCH_PATH: 'hooks/start' },
      run: fake().run,
      spec,
      memo: { path, build: 'b', hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
    await dispatch(charm({ allow: true }), {
      env,
      run: fake().run,
      spec,
      memo: { path: null, build: 'b', hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
  });

  test('the full run says why the replay missed, in its DEBUG line', async () => {
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    await dispatch(charm({ allow: false }), {
      env,
      run: fake.run,
      spec,
      memo: { path: join(dir, 'm.json'), build: 'b', hooks: ['update-status'], missed: 'no record' },
    });
    expect(fake.trace.jujuLog).toContainEqual({
      level: 'DEBUG',
      message: 'emitting event update-status (in full: no record)',
    });
  });
});

describe('normalized reads', () => {
  const drop = (s: string) => s.replace(/"t":\d+/g, '"t":0');
  test('a read recorded with a normalizer compares in that form; without the normalizer it is a miss', () => {
    const path = join(dir, 'u.json');
    const read: RecordedRead = {
      argv: ['ip', '-json'],
      normalize: 'timers',
      exitCode: 0,
      stdout: '{"t":0,"x":1}\n',
      stderr: '',
    };
    recordAt(path, { reads: [read], files: [] });
    const at = (stdout: string) => fakeRun({ 'ip -json': ok(stdout) }).run;
    expect(replayMemo(path, replayOpts(at('{"t":17,"x":1}\n'), { normalizers: { timers: drop } }))).toEqual({
      hit: true,
    });
    expect(replayMemo(path, replayOpts(at('{"t":17,"x":2}\n'), { normalizers: { timers: drop } }))).toEqual({
      hit: false,
      reason: 'ip -json answered differently',
    });
    expect(replayMemo(path, replayOpts(at('{"t":0,"x":1}\n')))).toEqual({
      hit: false,
      reason: 'no normalizer timers',
    });
  });
});
