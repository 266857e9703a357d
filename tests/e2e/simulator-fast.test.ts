/**
 * Fast mode (createSimulator({fast: true})): the sh tools answer the ops port's calls
 * without starting Node, with exactly the answers and records of the Node tools, for
 * hostile names and values too; the built charm's dispatch records the same in both modes.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import fc from 'fast-check';
import { answer } from '../../src/ops/testing/simulator/core.js';
import { HOOK_TOOLS, SimStateSchema } from '../../src/ops/testing/simulator/state.js';
import { canonicalRecord } from './calls.js';
import {
  createSimulator,
  runDispatch,
  unpackCharm,
  type DispatchResult,
  type Simulator,
  type SimStateInput,
} from '../../src/ops/testing/simulator/harness.js';
import { MAAS_NETWORKS, maasHost } from './fake-host.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const NETWORK = {
  'bind-addresses': [
    {
      'mac-address': '52:54:00:00:00:02',
      'interface-name': 'br-ens4',
      addresses: [{ hostname: '', value: '172.16.0.5', cidr: '172.16.0.0/24' }],
    },
  ],
  'egress-subnets': ['172.16.0.5/32'],
  'ingress-addresses': ['172.16.0.5'],
};
const STATE: SimStateInput = {
  unit: 'vrf-host/3',
  config: { strict: true, gateways: 'public=172.16.0.1', mtu: 9000 },
  networks: { public: NETWORK },
  leader: true,
  relations: {
    'juju-info': [
      { id: 7, app: 'ceph-osd', units: { 'ceph-osd/3': { 'private-address': '10.0.0.9' } }, localData: { a: 'b' } },
    ],
  },
  stored: { ledger: '{}' },
};

/** Names a shell would love to interpret. */
const HOSTILE = [
  "it's",
  '$(touch PWNED-1)',
  '`touch PWNED-2`',
  "x'; touch PWNED-3; '",
  'two\nlines',
  'trailing newline\n',
  ' spaced out ',
  '-r',
  '--format=yaml',
  '*',
  '[a-z]',
  '"dq" \\ back',
  '${HOME}',
  '',
];

let work: string;
let cwd: string; // every tool runs here: a PWNED file would show up
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ops-sim-fast-'));
  cwd = join(work, 'cwd');
  await mkdir(cwd);
}, 30_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
}, 30_000);

async function make(
  fast: boolean,
  state: SimStateInput = STATE,
  extra: Partial<Parameters<typeof createSimulator>[0]> = {},
): Promise<Simulator> {
  return createSimulator({ dir: await mkdtemp(join(work, 's-')), state, fast, ...extra });
}

interface Call {
  readonly tool: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly env?: Record<string, string>;
}

async function call(sim: Simulator, c: Call) {
  const r = await execa(join(sim.binDir, c.tool), [...c.args], {
    cwd,
    env: { ...sim.env, ...c.env },
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    ...(c.input !== undefined ? { input: c.input } : { stdin: 'ignore' as const }),
  });
  return { tool: c.tool, args: c.args, exit: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run the same calls, one after the other, on a Node-tool simulator and a fast one: same outputs, same record. */
async function compare(calls: readonly Call[], state: SimStateInput = STATE, between?: (sim: Simulator) => void) {
  const slow = await make(false, state);
  const fast = await make(true, state);
  const outs: Awaited<ReturnType<typeof call>>[][] = [[], []];
  for (const [i, sim] of [slow, fast].entries()) {
    for (const c of calls) {
      if (c.tool === '*between*') between?.(sim);
      else outs[i]?.push(await call(sim, c));
    }
  }
  expect(outs[1]).toEqual(outs[0]);
  const record = fast.read();
  expect(record).toEqual(slow.read());
  expect(await readdir(cwd)).toEqual([]);
  return { slow, fast, outs: outs[1] ?? [], record };
}

/** Every argv src/ops/hookcmds sends, in a hook. */
const HOOK_CALLS: Call[] = [
  { tool: 'juju-log', args: ['--log-level', 'DEBUG', '--', 'emitting event install'] },
  { tool: 'config-get', args: ['--format=json'] },
  { tool: 'network-get', args: ['--format=json', 'public'] },
  { tool: 'network-get', args: ['--format=json', '-r', 'juju-info:7', 'public'] },
  { tool: 'network-get', args: ['--format=json', 'storage'] },
  { tool: 'is-leader', args: ['--format=json'] },
  { tool: 'status-get', args: ['--include-data', '--format=json'] },
  { tool: 'state-get', args: ['--format=json'] },
  { tool: 'relation-ids', args: ['juju-info', '--format=json'] },
  { tool: 'relation-ids', args: ['nothing', '--format=json'] },
  { tool: 'relation-list', args: ['-r', 'juju-info:7', '--format=json'] },
  { tool: 'relation-get', args: ['--format=json', '-r', 'juju-info:7', '-', 'ceph-osd/3'] },
  { tool: 'relation-get', args: ['--format=json', '-r', 'juju-info:7', '-', 'vrf-host/3'] },
  { tool: 'juju-log', args: ['--log-level', 'WARNING', '--', 'network-get storage failed: "quoted"\nsecond line'] },
  { tool: 'application-version-set', args: ['--', '0.1.0'] },
  { tool: 'status-set', args: ['--application=false', 'maintenance', '--', 'applying 3 steps'] },
  { tool: 'status-set', args: ['--application=true', 'active', '--', ''] },
  { tool: 'state-set', args: ['--file', '-'], input: JSON.stringify({ ledger: '{"vrfs":["a b"]}', "it's": '$(x)\n' }) },
  { tool: 'state-delete', args: ['ledger'] },
];

/** Every argv src/ops/hookcmds sends, in an action. */
const ACTION_CALLS: Call[] = [
  { tool: 'action-get', args: ['--format=json'] },
  {
    tool: 'action-set',
    args: ['summary=2 steps; $(no)', 'steps.0=ip link add public type vrf table 1001', 'a-b.c=x=y'],
  },
  { tool: 'action-log', args: ['--', 'probing public\n`really`'] },
  { tool: 'action-fail', args: ['--', "step 2 failed: RTNETLINK answers: File exists 'x'"] },
];
const IN_ACTION: SimStateInput = { ...STATE, action: { name: 'show-vrfs', params: { routes: true, name: "it's" } } };

describe('fast mode starts no Node for the calls the ops port makes', () => {
  let sentinel: string;
  let spawned: string;
  beforeAll(async () => {
    // A "node" that only leaves a trace: any fallback to Node shows up, and fails.
    spawned = join(work, 'node-spawned');
    sentinel = join(work, 'sentinel-node');
    await writeFile(sentinel, `#!/bin/sh\nprintf '%s\\n' "$*" >>'${spawned}'\nexit 97\n`);
    await chmod(sentinel, 0o755);
  }, 30_000);

  test('hook and action calls: the same answers as the Node tools, none by Node', async () => {
    const { outs: expected } = await compare([...HOOK_CALLS]);
    // Names the charm's metadata.yaml would declare (runDispatch adds those itself).
    const sim = await make(true, STATE, { node: sentinel, bindings: ['storage'], endpoints: ['nothing'] });
    const got = [];
    for (const c of HOOK_CALLS) got.push(await call(sim, c));
    expect(got).toEqual(expected);
    expect(expected.map((o) => o.exit)).toEqual(HOOK_CALLS.map((c) => (c.args.includes('storage') ? 1 : 0)));
    expect(sim.stats()).toEqual({ fast: HOOK_CALLS.length, node: 0 });

    const { outs: expectedAction } = await compare([...ACTION_CALLS], IN_ACTION);
    sim.update((s) => ({ ...s, action: { name: 'show-vrfs', params: { routes: true, name: "it's" } } }));
    const gotAction = [];
    for (const c of ACTION_CALLS) gotAction.push(await call(sim, c));
    expect(gotAction).toEqual(expectedAction);
    expect(sim.stats()).toEqual({ fast: HOOK_CALLS.length + ACTION_CALLS.length, node: 0 });

    // With no usable PATH, as a charm may run them: cat is called by absolute path.
    const empty = await mkdtemp(join(work, 'empty-path-'));
    const noPath = { PATH: empty };
    expect(await call(sim, { tool: 'config-get', args: ['--format=json'], env: noPath })).toEqual(expected[1]);
    expect((await call(sim, { tool: 'state-set', args: ['--file', '-'], input: '{"p":"q"}', env: noPath })).exit).toBe(
      0,
    );
    expect(sim.read().stored['p']).toBe('q');
    expect(sim.stats()).toEqual({ fast: HOOK_CALLS.length + ACTION_CALLS.length + 2, node: 0 });
    await expect(readFile(spawned, 'utf8')).rejects.toThrow(/ENOENT/);

    // The sentinel works: a form outside the tables goes to "node".
    expect((await call(sim, { tool: 'config-get', args: ['--format=yaml'] })).exit).toBe(97);
    expect(await readFile(spawned, 'utf8')).toMatch(/hook-tool.*config-get --format=yaml/);
  }, 60_000);
});

describe('fast mode answers exactly as the Node tools', () => {
  test('status-get after status-set, state-get after state-set: the Node fallback, right answers', async () => {
    const { fast } = await compare([
      { tool: 'status-get', args: ['--include-data', '--format=json'] },
      { tool: 'state-get', args: ['--format=json'] },
      { tool: 'status-set', args: ['--application=false', 'blocked', '--', 'gateways: bad'] },
      { tool: 'status-get', args: ['--include-data', '--format=json'] },
      { tool: 'state-set', args: ['k=v'] },
      { tool: 'state-get', args: ['--format=json'] },
      { tool: 'state-delete', args: ['k'] },
      { tool: 'state-get', args: ['--format=json'] },
      { tool: 'status-get', args: ['--format=json'] },
    ]);
    expect(fast.stats()).toEqual({ fast: 5, node: 4 });
  }, 60_000);

  test('usage errors, run-time errors, env-dependent forms, faults', async () => {
    const env = { JUJU_RELATION_ID: 'juju-info:7', JUJU_REMOTE_UNIT: 'ceph-osd/3', JUJU_RELATION: 'juju-info' };
    await compare([
      { tool: 'status-set', args: ['--application=false', 'happy', '--', 'x'] },
      { tool: 'status-set', args: ['active'] },
      { tool: 'juju-log', args: [] },
      { tool: 'juju-log', args: ['-l', 'nonsense', '--', 'INFO it is'] },
      { tool: 'action-get', args: ['--format=json'] },
      { tool: 'action-set', args: ['a=1'] },
      { tool: 'action-log', args: ['--', 'x'] },
      { tool: 'action-fail', args: [] },
      { tool: 'network-get', args: ['--format=json', '-r', 'juju-info:9', 'public'] },
      { tool: 'relation-get', args: ['private-address', '--format=json'], env },
      { tool: 'relation-ids', args: ['--format=json'], env },
      { tool: 'relation-list', args: ['--format=json'], env },
      { tool: 'config-get', args: ['--format=json', 'mtu'] },
      { tool: 'config-get', args: ['nope', '--format=json'] },
    ]);
    await compare(
      [
        { tool: 'action-set', args: ['Bad=1'] },
        { tool: 'action-set', args: ['ok=1', 'stdout=1'] },
        { tool: 'action-set', args: ['a..b=1'] },
        { tool: 'action-set', args: ['novalue'] },
        { tool: 'action-set', args: ['-a=1'] },
        { tool: 'action-get', args: ['name', '--format=json'] },
        { tool: 'action-fail', args: [] },
      ],
      IN_ACTION,
    );
    const { fast } = await compare(
      [
        { tool: 'config-get', args: ['--format=json'] },
        { tool: 'network-get', args: ['--format=json', 'public'] },
        { tool: 'juju-log', args: ['--', 'still journalled'] },
      ],
      {
        ...STATE,
        faults: {
          'config-get': { exit: 0, stdout: '{not json' },
          'network-get': { exit: 3, stderr: "ERROR boom 'q'\n" },
          'juju-log': { exit: 1 },
        },
      },
    );
    expect(fast.stats()).toEqual({ fast: 3, node: 0 });
  }, 120_000);

  test('hostile config keys and values, binding names, relation names: same answers, from the tables, nothing run', async () => {
    const state: SimStateInput = {
      ...STATE,
      config: Object.fromEntries(HOSTILE.map((h, i) => [h, i % 2 === 0 ? h : i])),
      networks: Object.fromEntries(HOSTILE.map((h) => [h, { ...NETWORK, 'ingress-addresses': [h] }])),
      relations: {
        [HOSTILE[1] ?? '']: [
          { id: 3, app: HOSTILE[0] ?? '', units: Object.fromEntries(HOSTILE.map((h) => [h, { k: h }])) },
        ],
      },
    };
    const rel = `${HOSTILE[1]}:3`;
    const calls: Call[] = [
      { tool: 'config-get', args: ['--format=json'] },
      ...HOSTILE.map((h) => ({ tool: 'config-get', args: [h, '--format=json'] })),
      ...HOSTILE.map((h) => ({ tool: 'network-get', args: ['--format=json', h] })),
      ...HOSTILE.map((h) => ({ tool: 'relation-get', args: ['--format=json', '-r', rel, '-', h] })),
      { tool: 'relation-ids', args: [HOSTILE[1] ?? '', '--format=json'] },
      { tool: 'relation-list', args: ['-r', rel, '--format=json'] },
      ...HOSTILE.map((h) => ({ tool: 'juju-log', args: ['--log-level', h, '--', h] })),
      ...HOSTILE.map((h) => ({ tool: 'status-set', args: ['--application=false', 'active', '--', h] })),
      {
        tool: 'state-set',
        args: ['--file', '-'],
        input: JSON.stringify(Object.fromEntries(HOSTILE.map((h) => [h, h]))),
      },
      { tool: 'state-set', args: HOSTILE.filter((h) => h !== '' && !h.startsWith('-')).map((h) => `k${h}=${h}`) },
    ];
    const { fast, outs, record } = await compare(calls, state);
    expect(fast.stats()).toEqual({ fast: calls.length, node: 0 });
    // The answers are real ones, not errors all round.
    const values = outs
      .filter((o) => o.tool === 'network-get')
      .map((o) => (o.exit === 0 ? (JSON.parse(o.stdout) as typeof NETWORK)['ingress-addresses'][0] : o.exit));
    expect(values).toEqual(HOSTILE.map((h) => (h === '-r' || h === '--format=yaml' ? 2 : h)));
    expect(record.logs.map((l) => l.message)).toEqual(HOSTILE);
    expect(record.statusHistory.map((s) => s.message)).toEqual(HOSTILE);
    expect(record.stored["it's"]).toBe("it's");
    expect(record.stored['k$(touch PWNED-1)']).toBe('$(touch PWNED-1)');
  }, 180_000);

  test('a state change keeps the earlier calls answered in the earlier state', async () => {
    const { fast, record } = await compare(
      [
        { tool: 'network-get', args: ['--format=json', 'storage'] },
        { tool: 'status-set', args: ['--application=false', 'active', '--', 'one'] },
        { tool: '*between*', args: [] },
        { tool: 'network-get', args: ['--format=json', 'storage'] },
        { tool: 'status-get', args: ['--include-data', '--format=json'] },
      ],
      STATE,
      (sim) => sim.update((s) => ({ ...s, networks: { ...s.networks, storage: NETWORK } })),
    );
    expect(record.calls.map((c) => c.exit)).toEqual([1, 0, 0, 0]);
    // A binding neither in the state nor declared goes to Node; after the update it is in the
    // table, and status-get's table was re-rendered from the journal: no fallback needed.
    expect(fast.stats()).toEqual({ fast: 3, node: 1 });
    fast.clearJournal();
    expect(fast.read().calls).toEqual([]);
    const r = await call(fast, { tool: 'status-get', args: ['--include-data', '--format=json'] });
    expect(JSON.parse(r.stdout)).toEqual({ message: '', status: 'unknown', 'status-data': {} });
    expect(fast.stats()).toEqual({ fast: 1, node: 0 });
  }, 60_000);

  test('concurrent calls: every record whole, none lost, newlines and quotes intact', async () => {
    const sim = await make(true);
    const n = 48;
    const msg = (i: number) => `line ${i}\n'quoted' "${'x'.repeat(i * 50)}"`;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 3 === 0
          ? call(sim, { tool: 'status-set', args: ['--application=false', 'active', '--', msg(i)] })
          : call(sim, { tool: 'juju-log', args: ['--log-level', 'INFO', '--', msg(i)] }),
      ),
    );
    const rec = sim.read();
    expect(rec.calls).toHaveLength(n);
    const all = [...rec.logs.map((l) => l.message), ...rec.statusHistory.map((s) => s.message)].sort();
    expect(all).toEqual(Array.from({ length: n }, (_, i) => msg(i)).sort());
    expect(sim.stats()).toEqual({ fast: n, node: 0 });
  }, 60_000);
});

describe('fast mode against the logic itself', () => {
  // Argument soup from the tokens the sh shapes look at, and some they must not be fooled by.
  const TOKENS = [
    '--',
    '-',
    '-l',
    '--log-level',
    'WARNING',
    '--application=false',
    '--application=true',
    '--application',
    'active',
    'happy',
    '--format=json',
    '--format=yaml',
    '--file',
    '--file=-',
    '-r',
    'juju-info:7',
    'public',
    'storage',
    'k=v',
    'a.b-c=x=y',
    'Bad=1',
    'a..b=1',
    '-a=1',
    '=v',
    'stdout=1',
    'x.stderr=2',
    'novalue',
    '--include-data',
    'strict',
    'ceph-osd/3',
    '',
    ...HOSTILE.slice(0, 5),
  ];
  // What the sh shapes test for, or must refuse.
  const EDGES = [
    '--',
    '-',
    '',
    'happy',
    '--application',
    '-l',
    '--log-level',
    'Bad=1',
    'stdout=1',
    'a..b=1',
    '-a=1',
    'novalue',
    '--file',
    '--format=yaml',
    'x',
  ];
  const soup = fc.record({
    tool: fc.constantFrom(...HOOK_TOOLS),
    args: fc.array(fc.constantFrom(...TOKENS), { maxLength: 5 }),
  });
  // The ops port's own calls with one token replaced, inserted or dropped: right at the edges of the sh shapes.
  const nearMiss = fc
    .record({
      base: fc.constantFrom(...HOOK_CALLS, ...ACTION_CALLS),
      at: fc.nat(6),
      token: fc.constantFrom(...EDGES),
      how: fc.constantFrom('replace', 'insert', 'drop', 'keep'),
    })
    .map(({ base, at, token, how }) => {
      const args = [...base.args];
      const i = at % (args.length + 1);
      if (how === 'replace') args[Math.min(i, Math.max(args.length - 1, 0))] = token;
      if (how === 'insert') args.splice(i, 0, token);
      if (how === 'drop') args.splice(i, 1);
      return { tool: base.tool as (typeof HOOK_TOOLS)[number], args };
    });
  // stdin always a JSON map of strings: what sh cannot check is the one documented difference (simulator.test.ts).
  const arbCall = fc
    .oneof(soup, { arbitrary: nearMiss, weight: 3 })
    .map((c) => ({ ...c, input: '{"a":"b\\n","c":""}' }));

  test('every answer and record is the one answer() gives, in a hook and in an action', async () => {
    for (const input of [STATE, IN_ACTION]) {
      const state = SimStateSchema.parse(input);
      await fc.assert(
        fc.asyncProperty(fc.array(arbCall, { minLength: 1, maxLength: 8 }), async (calls) => {
          const sim = await make(true, input);
          for (const c of calls) {
            const before = sim.read().calls;
            const got = await call(sim, { tool: c.tool, args: c.args, input: c.input });
            // (A --file other than '-' names no file, in the tool's cwd or here: both fail alike.)
            const want = answer(state, c.tool, c.args, {
              prior: () => before,
              readFile: (f) => (f === '-' ? c.input : readFileSync(f, 'utf8')),
            });
            expect({ exit: got.exit, stdout: got.stdout, stderr: got.stderr }).toEqual({
              exit: want.exit,
              stdout: want.stdout,
              stderr: want.stderr,
            });
            // read() replays the fast records through answer() and refuses any other exit code.
            expect(sim.read().calls.at(-1)).toEqual({
              tool: c.tool,
              argv: c.args,
              exit: want.exit,
              stderr: want.stderr,
              ...(want.effect ? { effect: want.effect } : {}),
            });
          }
        }),
        { numRuns: 5 },
      );
    }
  }, 240_000);
});

describe('the sh shapes of the recording tools, at their edges', () => {
  test("every one-token edit of the ops port's recording calls: what sh answers, answer() agrees with", async () => {
    // A "node" that answers 97: a fallback is fine (it is answer() itself); what sh answers must be right.
    const node = join(work, 'node-97');
    await writeFile(node, '#!/bin/sh\nexit 97\n');
    await chmod(node, 0o755);
    const EDGES = [
      '--',
      '-',
      '',
      'happy',
      '--application',
      '-l',
      'Bad=1',
      'a.stderr=1',
      'a..b=1',
      '-a=1',
      '=v',
      'novalue',
      '--file',
      'x',
    ];
    const input = '{"a":"b"}';
    let viaSh = 0;
    for (const [state, calls] of [
      [STATE, HOOK_CALLS],
      [IN_ACTION, ACTION_CALLS],
    ] as const) {
      const parsed = SimStateSchema.parse(state);
      const sim = await make(true, state, { node });
      const variants = new Map<string, Call>();
      const recording = [
        'juju-log',
        'status-set',
        'application-version-set',
        'state-set',
        'state-delete',
        'action-set',
        'action-log',
        'action-fail',
      ];
      // One call per tool (the first), every position, every edge token.
      for (const c of calls.filter(
        (x, n) => recording.includes(x.tool) && calls.findIndex((y) => y.tool === x.tool) === n,
      )) {
        for (let i = 0; i <= c.args.length; i++) {
          for (const t of EDGES) {
            const edits = [
              [...c.args.slice(0, i), t, ...c.args.slice(i + 1)],
              [...c.args.slice(0, i), t, ...c.args.slice(i)],
              [...c.args.slice(0, i), ...c.args.slice(i + 1)],
            ];
            for (const args of edits) variants.set(JSON.stringify([c.tool, args]), { tool: c.tool, args, input });
          }
        }
      }
      const all = [...variants.values()];
      for (let k = 0; k < all.length; k += 16) {
        const outs = await Promise.all(all.slice(k, k + 16).map((c) => call(sim, c)));
        for (const o of outs) {
          if (o.exit === 97) continue;
          viaSh++;
          const want = answer(parsed, o.tool as (typeof HOOK_TOOLS)[number], o.args, { readFile: () => input });
          expect({ call: [o.tool, ...o.args], exit: o.exit, stdout: o.stdout, stderr: o.stderr }).toEqual({
            call: [o.tool, ...o.args],
            exit: want.exit,
            stdout: want.stdout,
            stderr: want.stderr,
          });
        }
      }
      // And the records replay: read() refuses any sh exit code answer() does not give.
      expect(sim.read().calls.length).toBeGreaterThan(0);
    }
    expect(viaSh).toBeGreaterThan(50);
  }, 180_000);
});

describe('the built charm records the same in both modes', () => {
  let charmDir: string;
  beforeAll(async () => {
    // tests/e2e/global-setup.mjs packed it once for every e2e file (as it ships, with bin/node).
    charmDir = join(work, 'charm');
    await unpackCharm(join(ROOT, 'vrf-host.charm'), charmDir);
  }, 180_000);

  test('install (dry-run) and the show-vrfs action', async () => {
    const state: SimStateInput = { config: { 'dry-run': true } };
    const results = [];
    for (const fast of [false, true]) {
      const sim = await make(fast, state);
      const install = await runDispatch(charmDir, 'hooks/install', sim);
      const installStats = sim.stats();
      sim.clearJournal();
      const action = await runDispatch(charmDir, 'actions/show-vrfs', sim, { params: { routes: true } });
      results.push({ install, installStats, action, actionStats: sim.stats() });
    }
    const [slow, fast] = results;
    if (!slow || !fast) throw new Error('two runs expected');
    for (const k of ['install', 'action'] as const) {
      expect({
        exit: fast[k].exitCode,
        stderr: fast[k].stderr,
        stdout: fast[k].stdout,
        record: canonicalRecord(fast[k].record),
      }).toEqual({
        exit: slow[k].exitCode,
        stderr: slow[k].stderr,
        stdout: slow[k].stdout,
        record: canonicalRecord(slow[k].record),
      });
    }
    expect(slow.install.exitCode).toBe(0);
    expect(slow.install.record.calls.filter((c) => c.tool === 'network-get')).toHaveLength(8);
    expect(slow.install.record.statusHistory.length).toBeGreaterThan(0);
    expect(Object.keys(slow.action.record.actionResults).length).toBeGreaterThan(0);
    // Every call of the install hook, and of the action, answered without Node.
    expect(fast.installStats).toEqual({ fast: slow.install.record.calls.length, node: 0 });
    expect(fast.actionStats).toEqual({ fast: slow.action.record.calls.length, node: 0 });
  }, 120_000);

  /** The recorded MAAS host (tests/e2e/fake-host.ts): its VRF_HOST_* and JUJU_API_ADDRESSES. */
  const fakeHost = async (): Promise<Record<string, string>> =>
    (await maasHost(await mkdtemp(join(work, 'host-')), '10.100.0.5:17070')).env;

  test('a converging lifecycle on a fake host: install, relation-joined, config-changed, update-status, show-vrfs, remove', async () => {
    const state: SimStateInput = {
      unit: 'vrf-host/0',
      config: { gateways: 'public=2001:db8:16::1' },
      networks: MAAS_NETWORKS,
      relations: { 'juju-info': [{ id: 1, app: 'ubuntu', units: { 'ubuntu/0': {} } }] },
    };
    const steps: [string, ((s: Simulator) => void)?, Record<string, unknown>?][] = [
      ['hooks/install'],
      ['hooks/juju-info-relation-joined'],
      ['hooks/config-changed', (s) => s.update((x) => ({ ...x, config: { ...x.config, 'nonlocal-bind': false } }))],
      ['hooks/update-status'],
      ['actions/show-vrfs', () => undefined, { routes: true }],
      ['hooks/remove'],
    ];
    const runs: { path: string; r: DispatchResult; stats: ReturnType<Simulator['stats']> }[][] = [];
    for (const fast of [false, true]) {
      const sim = await make(fast, state);
      const env = await fakeHost();
      const out = [];
      for (const [path, before, params] of steps) {
        before?.(sim);
        sim.clearJournal();
        const r = await runDispatch(charmDir, path, sim, { env, ...(params ? { params } : {}), timeout: 90_000 });
        out.push({ path, r, stats: sim.stats() });
      }
      runs.push(out);
    }
    const [slow, fast] = runs;
    const view = (xs: typeof slow) =>
      (xs ?? []).map(({ path, r }) => ({
        path,
        exit: r.exitCode,
        stderr: r.stderr,
        record: canonicalRecord(r.record),
      }));
    expect(view(fast)).toEqual(view(slow));
    // It converged (the records are real ones), and Node answered only what the sh tables do not hold.
    expect(slow?.[0]?.r.record.status).toEqual({
      status: 'active',
      message: expect.stringMatching(/^3 VRFs: public\(br-ens4/),
    });
    expect(slow?.map((x) => x.r.exitCode)).toEqual(steps.map(() => 0));
    for (const x of fast ?? []) expect({ path: x.path, node: x.stats.node }).toEqual({ path: x.path, node: 0 });
  }, 300_000);
});
