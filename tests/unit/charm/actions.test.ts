/**
 * show-vrfs, plan, apply and check-gateways through the Context harness: their
 * results (valid action-set keys, the human summary) and their failures.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { State } from '../../../src/ops/testing/index.js';
import type { NestedResults } from '../../../src/ops/testing/fake-juju.js';
import { simulate } from '../../../src/vrf/model.js';
import { PATHS } from '../../../src/vrf/persist.js';
import { BASE, context, freshFakeHost, PINNED } from './helpers.js';

const fh = freshFakeHost();

const link = (name: string) => fh.host.current().links.find((l) => l.name === name);
const nested = (r: NestedResults, path: string): string | NestedResults | undefined =>
  path.split('.').reduce<string | NestedResults | undefined>((o, k) => (typeof o === 'object' ? o[k] : undefined), r);

async function installed(): Promise<State> {
  const ctx = context(fh.host);
  const out = await ctx.run(ctx.on.install(), BASE);
  expect(out.unitStatus?.name).toBe('active');
  return { ...out, ...BASE };
}

/** Every action-set argv pair has a key Juju accepts. */
function expectValidKeys(calls: string[][]): void {
  const sets = calls.filter((c) => c[0] === 'action-set');
  expect(sets.length).toBeGreaterThan(0);
  for (const c of sets) {
    for (const pair of c.slice(1))
      expect(pair).toMatch(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*=/s);
  }
}

describe('show-vrfs', () => {
  test('per VRF: table, members with addresses, default route per family with its source, rules, sync; and a summary table', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs'), state);
    expect(ctx.actionFailure).toBeUndefined();
    expectValidKeys(ctx.calls);
    const r = ctx.actionResults;
    expect(r['in-sync']).toBe('true');
    expect(nested(r, 'vrfs.public.table')).toBe('1001');
    expect(nested(r, 'vrfs.public.binding')).toBe('public');
    expect(nested(r, 'vrfs.public.members.0.name')).toBe('br-ens4');
    expect(nested(r, 'vrfs.public.members.0.addresses')).toBe('172.16.0.10/24, 2001:db8:16::10/64');
    expect(nested(r, 'vrfs.public.ipv4.gateway')).toBe('172.16.0.1');
    expect(nested(r, 'vrfs.public.ipv4.source')).toBe('policy-table');
    expect(nested(r, 'vrfs.public.ipv6.source')).toBe('config');
    // bond0.105 holds a dot: never a key.
    expect(nested(r, 'vrfs.storage-cluster.members.0.name')).toBe('bond0.105');
    expect(Object.values(nested(r, 'vrfs.storage.rules') as NestedResults)).toContain(
      '99: from 10.10.4.10/32 lookup 1002',
    );
    expect(nested(r, 'vrfs.public.routes')).toBeUndefined();
    const summary = r['summary'] as string;
    expect(summary.split('\n')[0]).toMatch(
      /^VRF\s+TABLE\s+MEMBERS\s+MANAGED BY\s+IPV4 GATEWAY\s+IPV6 GATEWAY\s+STATE$/,
    );
    expect(summary).toMatch(
      /^public\s+1001\s+br-ens4 172\.16\.0\.10\/24,2001:db8:16::10\/64\s+none\s+172\.16\.0\.1 \(policy-table\)\s+2001:db8:16::1 \(config\)\s+in sync$/m,
    );
    // show-vrfs changes nothing, not even the status.
    expect(ctx.statusHistory).toEqual([]);
  });

  test('routes=true adds each VRF routing table', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs', { routes: true }), state);
    const routes = Object.values(nested(ctx.actionResults, 'vrfs.storage-cluster.routes') as NestedResults);
    expect(routes).toContain('default via 10.10.5.1 dev bond0.105');
    expect(routes).toContain('10.30.0.0/16 via 10.10.5.254 dev bond0.105 metric 100');
    expect(routes).toContain('unreachable default metric 4278198272');
  });

  test('drift shows per VRF with the pending commands', async () => {
    const state = await installed();
    fh.host.mutate((h) => simulate(h, [{ kind: 'release', dev: 'bond0', vrf: 'storage' }]));
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs'), state);
    expect(ctx.actionResults['in-sync']).toBe('false');
    expect(nested(ctx.actionResults, 'vrfs.storage.in-sync')).toBe('false');
    expect(nested(ctx.actionResults, 'vrfs.storage.pending')).toMatch(/^ip link set dev bond0 master storage$/m);
    expect(nested(ctx.actionResults, 'vrfs.public.in-sync')).toBe('true');
    expect(ctx.actionResults['summary']).toMatch(/^storage\s.*drift \(\d+ pending\)$/m);
    expect(link('bond0')?.master).toBeNull(); // nothing applied
    // A VRF's pending change is that VRF's, not the host's.
    expect(ctx.actionResults['host-pending']).toBeUndefined();
  });

  test("a host-wide drift (a flipped sysctl) is the host's pending change, in no VRF", async () => {
    const state = await installed();
    await writeFile(join(fh.host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'), '0\n');
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs'), state);
    expect(ctx.actionResults['in-sync']).toBe('false');
    expect(ctx.actionResults['host-pending']).toMatch(/^sysctl -w net\.ipv4\.tcp_l3mdev_accept=1$/m);
    expect(nested(ctx.actionResults, 'vrfs.storage.in-sync')).toBe('true');
    expect(ctx.actionResults['summary']).toMatch(/^host: 1 pending change\(s\)$/m);
  });

  test('with a bad config it shows the last applied state and the problem', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs'), { ...state, config: { vrfs: 'x: {binding: storage, table: 254}' } });
    expect(ctx.actionFailure).toBeUndefined();
    expect(ctx.actionResults['problems']).toBe('vrfs: x.table 254 is reserved');
    expect(nested(ctx.actionResults, 'vrfs.public.table')).toBe('1001');
    // The summary table, then the problem on a line of its own.
    expect(ctx.actionResults['summary']).toMatch(
      /^VRF\s+TABLE[^]*\npublic\s+1001\s[^]*\nproblem: vrfs: x\.table 254 is reserved$/,
    );
  });

  test('invalid params fail the action naming the param', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('show-vrfs', { routes: 'yes' }), BASE);
    expect(ctx.actionFailure).toMatch(/^action show-vrfs: invalid parameter "routes": must be true or false/);
    await ctx.run(ctx.on.action('show-vrfs', { colour: true }), BASE);
    expect(ctx.actionFailure).toMatch(/unknown parameter: "colour"/);
    expect(fh.host.calls).toEqual([]);
  });
});

describe('plan', () => {
  test('the exact ip commands the next config-changed would run, and a summary; nothing applied', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('plan'), BASE);
    expect(ctx.actionFailure).toBeUndefined();
    expectValidKeys(ctx.calls);
    const commands = (ctx.actionResults['commands'] as string).split('\n');
    expect(commands).toContain('ip link add name public type vrf table 1001');
    expect(commands).toContain('ip link set dev bond0 master storage');
    expect(commands).toContain('sysctl -w net.ipv4.tcp_l3mdev_accept=1');
    expect(commands.indexOf('sysctl -w net.ipv6.conf.all.keep_addr_on_down=1')).toBeLessThan(
      commands.indexOf('ip link set dev br-ens4 master public'),
    );
    expect(ctx.actionResults['count']).toBe(String(commands.length));
    expect(ctx.actionResults['summary']).toMatch(
      new RegExp(`^${commands.length} changes: \\d+ sysctl, \\d+ rule-add, \\d+ vrf-create, `),
    );
    expect(nested(ctx.actionResults, 'steps.0.command')).toBe(commands[0]);
    expect(fh.host.batches()).toEqual([]);
    await expect(readFile(join(fh.host.root, PATHS.state), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  test('on a converged host: nothing to do', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('plan'), state);
    expect(ctx.actionResults).toEqual({
      summary: 'nothing to do: the host matches the desired state',
      count: '0',
      commands: '(none)',
    });
  });

  test('config overrides (YAML) preview a change without making it', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(
      ctx.on.action('plan', { config: "{strict: false, vrfs: 'storacc: {binding: storage, table: 20}'}" }),
      state,
    );
    expect(ctx.actionFailure).toBeUndefined();
    const commands = ctx.actionResults['commands'] as string;
    expect(commands).toMatch(/^ip route del unreachable 0\.0\.0\.0\/0 metric 4278198272 table 1001$/m);
    expect(commands).toMatch(/^ip link add name storacc type vrf table 20$/m);
    expect(commands).toMatch(/^ip link del dev public$/m);
    expect(link('public')?.kind).toBe('vrf');
    expect(link('storacc')).toBeUndefined();
  });

  test('config overrides as JSON with a nested vrfs mapping', async () => {
    const ctx = context(fh.host);
    await ctx.run(
      ctx.on.action('plan', { config: JSON.stringify({ vrfs: { storacc: { binding: 'storage', table: 20 } } }) }),
      BASE,
    );
    expect(ctx.actionFailure).toBeUndefined();
    expect(ctx.actionResults['commands']).toMatch(/^ip link add name storacc type vrf table 20$/m);
  });

  test.each([
    ['{vrfs: "storacc: {binding: storage, table: 254}"}', 'plan: config: vrfs: storacc.table 254 is reserved'],
    ['{gateways: "public=not-an-ip"}', /^plan: config: gateways: entry "public=not-an-ip"/],
    ['{strict: maybe}', /^plan: config: strict: must be true or false/],
    ['{colour: blue}', /^plan: config: unknown option "colour" \(options: .*vrfs.*\)$/],
    ['[1, 2]', 'plan: config: must be a mapping of option names to values, e.g. {strict: false}'],
    ['{vrfs: [unclosed', /^plan: config: is not valid YAML or JSON: /],
    [
      '{vrfs: "storacc: {binding: nope}"}',
      /^plan: config: vrfs: storacc\.binding "nope" is not a binding of this unit/,
    ],
    ['{"heal-drift": "often"}', /^plan: config: heal-drift: must be true or false/],
  ])('bad overrides fail the action naming the field: %s', async (config, message) => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('plan', { config }), BASE);
    if (typeof message === 'string') expect(ctx.actionFailure).toBe(message);
    else expect(ctx.actionFailure).toMatch(message);
    expect(fh.host.batches()).toEqual([]);
    expect(ctx.exitCode).toBe(0);
  });

  test('invalid params: config must be a string or a mapping', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('plan', { config: 3 }), BASE);
    expect(ctx.actionFailure).toMatch(/^action plan: invalid parameter "config": must be a string or a mapping/);
  });

  test("the README's juju run … plan config='{gateways: \"public=172.16.0.254\"}': the mapping Juju delivers", async () => {
    // juju run parses the argument as YAML (cmd/juju/action/run.go): action-get returns this mapping.
    const state = await installed();
    const appliedBefore = fh.host.batches().length;
    const asMapping = context(fh.host);
    await asMapping.run(asMapping.on.action('plan', { config: { gateways: 'public=172.16.0.254' } }), state);
    expect(asMapping.actionFailure).toBeUndefined();
    expect(asMapping.actionResults['commands']).toMatch(
      /^ip route replace 0\.0\.0\.0\/0 via 172\.16\.0\.254 dev br-ens4 table 1001$/m,
    );
    // …and the same override as text (juju run --string-args) plans the same commands.
    const asText = context(fh.host);
    await asText.run(asText.on.action('plan', { config: '{gateways: "public=172.16.0.254"}' }), state);
    expect(asText.actionResults).toEqual(asMapping.actionResults);
    expect(fh.host.batches()).toHaveLength(appliedBefore); // plan applies nothing
  });
});

describe('apply', () => {
  test('reconciles now and lists the steps that ran; the status follows', async () => {
    const state = await installed();
    fh.host.mutate((h) => simulate(h, [{ kind: 'release', dev: 'bond0', vrf: 'storage' }]));
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.action('apply'), { ...state, config: { ...PINNED, 'heal-drift': false } });
    expect(ctx.actionFailure).toBeUndefined();
    expect(ctx.actionResults['applied']).toMatch(/^ip link set dev bond0 master storage$/m);
    expect(ctx.actionResults['summary']).toMatch(/^ran \d+ changes?: /);
    expect(link('bond0')?.master).toBe('storage');
    expect(out.unitStatus?.name).toBe('active');
  });

  test('applies even when dry-run is set (the unit-by-unit rollout)', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('apply'), { ...BASE, config: { ...PINNED, 'dry-run': true } });
    expect(ctx.actionFailure).toBeUndefined();
    expect(link('public')?.kind).toBe('vrf');
    expect(Number(ctx.actionResults['count'])).toBeGreaterThan(10);
  });

  test('nothing to do on a converged host', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('apply'), state);
    expect(ctx.actionResults['summary']).toBe('nothing to do: the host already matched the desired state');
    expect(ctx.actionResults['count']).toBe('0');
  });

  test('fails with the failing step and its error, listing the steps that ran', async () => {
    fh.host.failOn(/master storage$/, 'RTNETLINK answers: Operation not supported');
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.action('apply'), BASE);
    expect(ctx.actionFailure).toMatch(
      /^apply: step \d+ of \d+ failed: ip link set dev bond0 master storage: RTNETLINK answers: Operation not supported$/,
    );
    expect(ctx.actionResults['applied']).toMatch(/^ip link set dev br-ens4 master public$/m);
    expect(ctx.actionResults['applied']).not.toMatch(/master storage/);
    expect(out.unitStatus?.name).toBe('blocked');
  });

  test('bad config fails the action naming the field; nothing applied', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('apply'), { ...BASE, config: { 'table-range': 'lots' } });
    expect(ctx.actionFailure).toMatch(/^apply: table-range: /);
    expect(fh.host.batches()).toEqual([]);
  });

  test('unknown params fail the action', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('apply', { force: true }), BASE);
    expect(ctx.actionFailure).toMatch(/unknown parameter: "force"/);
    expect(fh.host.calls).toEqual([]);
  });
});

describe('check-gateways', () => {
  const PING_OK = {
    stdout:
      'PING 172.16.0.1 56(84) bytes of data.\n\n--- 172.16.0.1 ping statistics ---\n3 packets transmitted, 3 received,' +
      ' 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.041/0.052/0.061/0.008 ms\n',
  };
  const PING_LOSS = {
    stdout: '--- 10.10.4.1 ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n',
    code: 1,
  };

  test('pings each gateway from inside its VRF; an unreachable gateway is a result, not a failure', async () => {
    const state = await installed();
    fh.host.ping({ '172.16.0.1': PING_OK, '10.10.4.1': PING_LOSS });
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('check-gateways'), state);
    expect(ctx.actionFailure).toBeUndefined();
    expectValidKeys(ctx.calls);
    const r = ctx.actionResults;
    expect(nested(r, 'vrfs.public.ipv4')).toEqual({
      address: '172.16.0.1',
      reachable: 'true',
      loss: '0%',
      rtt: '0.052 ms (min 0.041, max 0.061)',
    });
    expect(nested(r, 'vrfs.storage.ipv4.reachable')).toBe('false');
    expect(nested(r, 'vrfs.storage.ipv4.loss')).toBe('100%');
    expect(r['reachable']).toBe('false');
    expect(r['summary']).toMatch(/^\d+ of \d+ probes unreachable\n/);
    const pings = fh.host.calls.filter((c) => c.args[0] === 'vrf');
    expect(pings.map((c) => c.args.slice(0, 4).join(' '))).toContain('vrf exec public ping');
  });

  test('vrf and target probe a further address from one VRF', async () => {
    const state = await installed();
    fh.host.ping({ '172.16.0.1': PING_OK, '172.16.0.99': PING_OK });
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('check-gateways', { vrf: 'public', target: '172.16.0.99' }), state);
    expect(Object.keys(nested(ctx.actionResults, 'vrfs') as NestedResults)).toEqual(['public']);
    expect(nested(ctx.actionResults, 'vrfs.public.target.address')).toBe('172.16.0.99');
    expect(fh.host.calls.filter((c) => c.args[0] === 'vrf').every((c) => c.args[2] === 'public')).toBe(true);
  });

  test.each([
    [
      { target: '10.0.0.1' },
      /^action check-gateways: invalid parameter "target": needs vrf, the VRF to probe it from$/,
    ],
    [
      { vrf: 'public', target: 'gateway' },
      /^action check-gateways: invalid parameter "target": "gateway" is not an IPv4 or IPv6 address$/,
    ],
    // actions.yaml's pattern (what Juju checks too), then the charm's own reason
    [
      { vrf: 'Public!' },
      /^action check-gateways: invalid parameter "vrf": must match \^\[a-z0-9-\]\{1,15\}\$; invalid parameter "vrf": "Public!" is not a VRF name/,
    ],
    [{ vrf: 7 }, /^action check-gateways: invalid parameter "vrf": must be a string/],
    [{ verbose: true }, /unknown parameter: "verbose"/],
  ])('invalid params %p fail the action naming the param', async (params, message) => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('check-gateways', params), BASE);
    expect(ctx.actionFailure).toMatch(message);
    expect(fh.host.calls).toEqual([]);
  });

  test('a VRF that is not one of ours fails the action naming it', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    await ctx.run(ctx.on.action('check-gateways', { vrf: 'nope' }), state);
    expect(ctx.actionFailure).toBe(
      'check-gateways: vrf: "nope" is not one of vrf-host\'s VRFs (public, storage, storage-cluster)',
    );
  });
});
