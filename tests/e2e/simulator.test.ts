/**
 * The hook-tool simulator itself: each tool answers and fails as Juju's does, and the
 * journal records the exact argv of every call. Runs the real tool processes, in both
 * modes: the Node tools, and fast mode's sh tools (with their Node fallback).
 * simulator-fast.test.ts has what is particular to fast mode.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  createSimulator,
  HOOK_TOOLS,
  type Simulator,
  type SimStateInput,
} from '../../src/ops/testing/simulator/harness.js';

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
  config: { strict: true, gateways: 'public=172.16.0.1', 'table-range': '1001-5000' },
  networks: { public: NETWORK },
  leader: false,
  relations: { 'juju-info': [{ id: 7, app: 'ceph-osd', units: { 'ceph-osd/3': { 'private-address': '10.0.0.9' } } }] },
  stored: { ledger: '{}' },
};

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ops-sim-test-'));
}, 30_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
}, 30_000);

function tool(
  sim: Simulator,
  name: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
) {
  return execa(join(sim.binDir, name), args, {
    env: { ...sim.env, ...opts.env },
    reject: false,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

describe.each([
  ['node tools', false],
  ['fast mode', true],
])('%s', (_mode, fast) => {
  async function make(
    state: SimStateInput = STATE,
    extra: Partial<Parameters<typeof createSimulator>[0]> = {},
  ): Promise<Simulator> {
    return createSimulator({ dir: await mkdtemp(join(work, 's-')), state, fast, ...extra });
  }

  test('every hook tool is on the bin dir, and omit leaves tools out', async () => {
    const { readdir } = await import('node:fs/promises');
    const all = await make();
    expect((await readdir(all.binDir)).sort()).toEqual([...HOOK_TOOLS].sort());
    const some = await make(STATE, { omit: ['network-get'] });
    expect(await readdir(some.binDir)).not.toContain('network-get');
  }, 30_000);

  test('config-get, is-leader, network-get answer from the state file', async () => {
    const sim = await make();
    expect(JSON.parse((await tool(sim, 'config-get', ['--format=json'])).stdout)).toEqual(STATE.config);
    expect((await tool(sim, 'config-get', ['gateways', '--format=json'])).stdout).toBe('"public=172.16.0.1"');
    expect((await tool(sim, 'is-leader', ['--format=json'])).stdout).toBe('false');
    expect(JSON.parse((await tool(sim, 'network-get', ['--format=json', 'public'])).stdout)).toEqual(NETWORK);
    expect((await tool(sim, 'network-get', ['public', '--primary-address'])).stdout).toBe('172.16.0.5');
    expect(
      JSON.parse((await tool(sim, 'network-get', ['--format=json', '-r', 'juju-info:7', 'public'])).stdout),
    ).toEqual(NETWORK);
    expect(sim.read().calls.map((c) => [c.tool, ...c.argv])).toEqual([
      ['config-get', '--format=json'],
      ['config-get', 'gateways', '--format=json'],
      ['is-leader', '--format=json'],
      ['network-get', '--format=json', 'public'],
      ['network-get', 'public', '--primary-address'],
      ['network-get', '--format=json', '-r', 'juju-info:7', 'public'],
    ]);
  }, 30_000);

  test('errors look like Juju: run-time errors exit 1, usage errors exit 2', async () => {
    const sim = await make();
    const cases: [string, string[], number, string][] = [
      ['network-get', ['--format=json', 'storage'], 1, 'ERROR no network config found for binding "storage"\n'],
      ['network-get', ['--format=json'], 2, 'ERROR no arguments specified\n'],
      [
        'network-get',
        ['--format=json', '-r', 'juju-info:9', 'public'],
        2,
        'ERROR invalid value "juju-info:9" for option -r: relation not found\n',
      ],
      ['network-get', ['--bogus', 'public'], 2, 'ERROR flag provided but not defined: --bogus\n'],
      ['config-get', ['--format=xml'], 2, 'ERROR invalid value "xml" for option --format: unknown format "xml"\n'],
      [
        'status-set',
        ['--application=false', 'happy', '--', 'x'],
        2,
        'ERROR invalid status "happy", expected one of [maintenance blocked waiting active]\n',
      ],
      ['action-get', ['--format=json'], 1, 'ERROR not running an action\n'],
      ['action-set', ['a=1'], 1, 'ERROR not running an action\n'],
      [
        'status-get',
        ['--application', '--format=json'],
        1,
        'ERROR finding application status: this unit is not the leader\n',
      ],
    ];
    for (const [name, args, code, stderr] of cases) {
      const r = await tool(sim, name, args);
      expect({ name, args, code: r.exitCode, stderr: `${r.stderr}\n` }).toEqual({ name, args, code, stderr });
    }
    expect(sim.read().calls.map((c) => c.exit)).toEqual(cases.map((c) => c[2]));
    expect(sim.read().statusHistory).toEqual([]);
  }, 30_000);

  test('status-set is recorded and status-get reads it back', async () => {
    const sim = await make();
    expect(JSON.parse((await tool(sim, 'status-get', ['--include-data', '--format=json'])).stdout)).toEqual({
      message: '',
      status: 'unknown',
      'status-data': {},
    });
    await tool(sim, 'status-set', ['--application=false', 'maintenance', '--', 'applying 3 steps']);
    await tool(sim, 'status-set', ['--application=false', 'active', '--', '--looks like a flag']);
    expect(JSON.parse((await tool(sim, 'status-get', ['--include-data', '--format=json'])).stdout)).toEqual({
      message: '--looks like a flag',
      status: 'active',
      'status-data': {},
    });
    const rec = sim.read();
    expect(rec.statusHistory).toEqual([
      { status: 'maintenance', message: 'applying 3 steps' },
      { status: 'active', message: '--looks like a flag' },
    ]);
    expect(rec.status).toEqual({ status: 'active', message: '--looks like a flag' });
  }, 30_000);

  test('juju-log levels and application-version-set', async () => {
    const sim = await make();
    await tool(sim, 'juju-log', ['--log-level', 'WARNING', '--', 'gateway for public derived from netplan']);
    await tool(sim, 'juju-log', ['-l', 'nonsense', '--', 'Juju logs unknown levels at INFO']);
    await tool(sim, 'application-version-set', ['--', '0.1.0']);
    expect((await tool(sim, 'juju-log', [])).exitCode).toBe(2);
    const rec = sim.read();
    expect(rec.logs).toEqual([
      { level: 'WARNING', message: 'gateway for public derived from netplan' },
      { level: 'INFO', message: 'Juju logs unknown levels at INFO' },
    ]);
    expect(rec.workloadVersion).toBe('0.1.0');
  }, 30_000);

  test('actions: params, results with key validation, logs, failure', async () => {
    const sim = await make({
      ...STATE,
      action: { name: 'plan', params: { config: 'strict: false', nested: { a: 1 } } },
    });
    expect(JSON.parse((await tool(sim, 'action-get', ['--format=json'])).stdout)).toEqual({
      config: 'strict: false',
      nested: { a: 1 },
    });
    expect((await tool(sim, 'action-get', ['nested.a', '--format=json'])).stdout).toBe('1');
    expect(
      (await tool(sim, 'action-set', ['summary=2 steps', 'steps.0=ip link add public type vrf table 1001'])).exitCode,
    ).toBe(0);
    const bad: [string, string][] = [
      [
        'Bad=1',
        'ERROR key "Bad" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods',
      ],
      [
        'a..b=1',
        'ERROR key "" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods',
      ],
      ['stdout=1', 'ERROR cannot set reserved action key "stdout"'],
      ['novalue', 'ERROR argument "novalue" must be of the form key...=value'],
    ];
    for (const [arg, msg] of bad) {
      const r = await tool(sim, 'action-set', ['ok=1', arg]);
      expect([r.exitCode, r.stderr]).toEqual([2, msg]);
    }
    await tool(sim, 'action-log', ['--', 'probing public']);
    await tool(sim, 'action-fail', ['--', 'step 2 failed: RTNETLINK answers: File exists']);
    const rec = sim.read();
    // Rejected calls set nothing, not even their valid pairs.
    expect(rec.actionResults).toEqual({ summary: '2 steps', 'steps.0': 'ip link add public type vrf table 1001' });
    expect(rec.actionLogs).toEqual(['probing public']);
    expect(rec.actionFailure).toBe('step 2 failed: RTNETLINK answers: File exists');
    const bare = await make({ ...STATE, action: { name: 'apply', params: {} } });
    await tool(bare, 'action-fail', []);
    expect(bare.read().actionFailure).toBe('action failed without reason given');
  }, 30_000);

  test('relations: ids, units, data; -r defaults to JUJU_RELATION_ID', async () => {
    const sim = await make();
    expect(JSON.parse((await tool(sim, 'relation-ids', ['juju-info', '--format=json'])).stdout)).toEqual([
      'juju-info:7',
    ]);
    expect(JSON.parse((await tool(sim, 'relation-ids', ['nothing', '--format=json'])).stdout)).toEqual([]);
    expect(JSON.parse((await tool(sim, 'relation-list', ['-r', 'juju-info:7', '--format=json'])).stdout)).toEqual([
      'ceph-osd/3',
    ]);
    expect(
      JSON.parse((await tool(sim, 'relation-get', ['--format=json', '-r', 'juju-info:7', '-', 'ceph-osd/3'])).stdout),
    ).toEqual({
      'private-address': '10.0.0.9',
    });
    const env = { JUJU_RELATION_ID: 'juju-info:7', JUJU_REMOTE_UNIT: 'ceph-osd/3' };
    expect((await tool(sim, 'relation-get', ['private-address', '--format=json'], { env })).stdout).toBe('"10.0.0.9"');
    const missing = await tool(sim, 'relation-get', ['--format=json', '-r', 'juju-info:7', '-', 'ceph-osd/9']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/settings not found/);
  }, 30_000);

  test('state-set from stdin and key=value, state-get, state-delete', async () => {
    const sim = await make();
    expect(
      (await tool(sim, 'state-set', ['--file', '-'], { input: JSON.stringify({ ledger: '{"vrfs":1}', units: 'a' }) }))
        .exitCode,
    ).toBe(0);
    await tool(sim, 'state-set', ['extra=1']);
    await tool(sim, 'state-delete', ['units']);
    expect(JSON.parse((await tool(sim, 'state-get', ['--format=json'])).stdout)).toEqual({
      ledger: '{"vrfs":1}',
      extra: '1',
    });
    const bad = await tool(sim, 'state-set', ['--file', '-'], { input: '[1,2]' });
    if (fast) {
      // sh cannot check stdin: the fast tool says 0, and read() refuses to hide that Juju would not.
      expect(bad.exitCode).toBe(0);
      expect(() => sim.read()).toThrow(
        /fast mode answered "state-set" "--file" "-" with exit 0, but the simulator's logic gives exit 1 \(ERROR cannot parse stdin: expected a map of strings\)/,
      );
    } else {
      expect(bad.exitCode).toBe(1);
      expect(sim.read().stored).toEqual({ ledger: '{"vrfs":1}', extra: '1' });
    }
  }, 30_000);

  test('faults force an outcome and are still journalled', async () => {
    const sim = await make({
      ...STATE,
      faults: { 'config-get': { exit: 0, stdout: '{not json' }, 'network-get': { exit: 3, stderr: 'ERROR boom\n' } },
    });
    expect((await tool(sim, 'config-get', ['--format=json'])).stdout).toBe('{not json');
    const r = await tool(sim, 'network-get', ['--format=json', 'public']);
    expect([r.exitCode, r.stderr]).toEqual([3, 'ERROR boom']);
    expect(sim.read().calls.map((c) => [c.tool, c.exit])).toEqual([
      ['config-get', 0],
      ['network-get', 3],
    ]);
  }, 30_000);

  test('concurrent calls lose no records', async () => {
    const sim = await make();
    const n = fast ? 32 : 8;
    await Promise.all(Array.from({ length: n }, (_, i) => tool(sim, 'juju-log', ['--', `line ${i}`])));
    expect(
      sim
        .read()
        .logs.map((l) => l.message)
        .sort(),
    ).toEqual(Array.from({ length: n }, (_, i) => `line ${i}`).sort());
  }, 30_000);

  test('update() changes what the tools see between hooks', async () => {
    const sim = await make();
    sim.update((s) => ({ ...s, config: { ...s.config, strict: false } }));
    expect(JSON.parse((await tool(sim, 'config-get', ['strict', '--format=json'])).stdout)).toBe(false);
    sim.clearJournal();
    expect(sim.read().calls).toEqual([]);
  }, 30_000);
});
