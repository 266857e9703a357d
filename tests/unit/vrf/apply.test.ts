import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { applySteps, type Renderer } from '../../../src/vrf/apply.js';
import { sysctlPath } from '../../../src/vrf/sysctl.js';
import { SYSCTL, type Step } from '../../../src/vrf/types.js';
import { fakeIp } from './ip.fake.js';

// A small renderer double (the real one is src/vrf/render.ts); argv without the leading `ip`.
const renderer: Renderer = {
  renderStep(step) {
    switch (step.kind) {
      case 'vrf-create':
        return { kind: 'ip', argv: ['link', 'add', step.name, 'type', 'vrf', 'table', String(step.table)] };
      case 'link-up':
        return { kind: 'ip', argv: ['link', 'set', 'dev', step.dev, 'up'] };
      case 'enslave':
        return { kind: 'ip', argv: ['link', 'set', 'dev', step.dev, 'master', step.vrf] };
      case 'sysctl':
        return { kind: 'sysctl', key: step.key, value: step.value };
      case 'route-add':
        if (step.route.dev?.includes(' ')) throw new Error(`invalid interface name "${step.route.dev}"`);
        return {
          kind: 'ip',
          argv: [
            'route',
            'add',
            step.route.dst,
            'table',
            String(step.route.table),
            ...(step.route.dev ? ['dev', step.route.dev] : []),
          ],
        };
      default:
        throw new Error(`test renderer: ${step.kind}`);
    }
  },
  renderCommand(step) {
    const r = this.renderStep(step);
    return r.kind === 'ip'
      ? `ip ${r.argv.join(' ')}`
      : r.kind === 'sysctl'
        ? `sysctl -w ${r.key}=${r.value}`
        : `write /${r.path}`;
  },
};

const steps: Step[] = [
  { kind: 'sysctl', key: SYSCTL.keepAddrOnDown, value: '1', why: 'keep IPv6 addresses across enslave' },
  { kind: 'vrf-create', name: 'storage', table: 1001 },
  { kind: 'link-up', dev: 'storage' },
  { kind: 'enslave', dev: 'ens4', vrf: 'storage' },
  {
    kind: 'route-add',
    route: { family: 'inet', table: 1001, dst: '0.0.0.0/0', type: 'unicast', dev: 'ens4' },
    why: 'default',
  },
  { kind: 'sysctl', key: SYSCTL.tcpL3mdev, value: '1', why: 'l3mdev' },
];

async function proc(): Promise<string> {
  const p = await mkdtemp(join(tmpdir(), 'vrf-proc-'));
  for (const k of [SYSCTL.keepAddrOnDown, SYSCTL.tcpL3mdev]) {
    await mkdir(dirname(sysctlPath(k, p)), { recursive: true });
    await writeFile(sysctlPath(k, p), '0\n');
  }
  return p;
}

describe('applySteps', () => {
  it('writes sysctls in place and runs every ip step through ONE ip -batch process, in order', async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    const r = await applySteps(steps, { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok).toBe(true);
    expect(r.ipProcesses).toBe(1);
    expect(r.applied.map((a) => a.command)).toEqual([
      'sysctl -w net.ipv6.conf.all.keep_addr_on_down=1',
      'ip link add storage type vrf table 1001',
      'ip link set dev storage up',
      'ip link set dev ens4 master storage',
      'ip route add 0.0.0.0/0 table 1001 dev ens4',
      'sysctl -w net.ipv4.tcp_l3mdev_accept=1',
    ]);
    const calls = await ip.calls();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.stdin.split('\n').filter(Boolean)).toHaveLength(4);
    expect(await readFile(sysctlPath(SYSCTL.keepAddrOnDown, procRoot), 'utf8')).toBe('1\n');
    expect(await readFile(sysctlPath(SYSCTL.tcpL3mdev, procRoot), 'utf8')).toBe('1\n');
  });

  it('stops at the first failing line and maps it back to its step and command', async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    await ip.failOn('master storage', 'Error: argument "storage" is wrong: Device does not exist');
    const r = await applySteps(steps, { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure).toEqual({
      index: 3,
      step: steps[3],
      command: 'ip link set dev ens4 master storage',
      error: 'Error: argument "storage" is wrong: Device does not exist',
    });
    expect(r.applied.map((a) => a.step.kind)).toEqual(['sysctl', 'vrf-create', 'link-up']);
    // Nothing after the failure ran: the trailing sysctl is untouched.
    expect(await readFile(sysctlPath(SYSCTL.tcpL3mdev, procRoot), 'utf8')).toBe('0\n');
  });

  it("gives ip's whole message without its 'Command failed -:N' trailer, each line trimmed, blank ones left out", async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    await ip.failOn('master storage', '  Error: first  \n\n  then second\n');
    const r = await applySteps(steps, { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.error).toBe('Error: first; then second');
  });

  it('a sysctl write failure names the step', async () => {
    const ip = await fakeIp();
    const procRoot = await mkdtemp(join(tmpdir(), 'vrf-proc-')); // no sysctls at all
    const r = await applySteps(steps.slice(0, 2), { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.index).toBe(0);
    expect(r.failure.error).toMatch(/this kernel has no such sysctl/);
    expect(await ip.calls()).toHaveLength(0);
  });

  it('an invalid step refuses the whole plan before anything runs', async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    const bad: Step[] = [
      ...steps.slice(0, 4),
      {
        kind: 'route-add',
        route: { family: 'inet', table: 1001, dst: '10.0.0.0/8', type: 'unicast', dev: 'ens4 x' },
        why: 'x',
      },
    ];
    const r = await applySteps(bad, { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.index).toBe(4);
    expect(r.failure.error).toMatch(/invalid step, nothing applied: invalid interface name/);
    expect(r.applied).toEqual([]);
    expect(await ip.calls()).toHaveLength(0);
    expect(await readFile(sysctlPath(SYSCTL.keepAddrOnDown, procRoot), 'utf8')).toBe('0\n');
  });

  it('a token ip -batch would split refuses the whole plan before anything runs', async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    const sneaky: Renderer = {
      ...renderer,
      renderStep: (s) =>
        s.kind === 'link-up' ? { kind: 'ip', argv: ['link', 'set', 'dev', 'x # y', 'up'] } : renderer.renderStep(s),
    };
    const r = await applySteps(steps, { ipBin: ip.bin, procRoot, renderer: sneaky });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.index).toBe(2);
    expect(r.failure.error).toMatch(/invalid step, nothing applied: token "x # y" contains whitespace/);
    expect(await ip.calls()).toHaveLength(0);
    expect(await readFile(sysctlPath(SYSCTL.keepAddrOnDown, procRoot), 'utf8')).toBe('0\n');
  });

  it('keeps the order when a sysctl sits between ip steps (two batches)', async () => {
    const ip = await fakeIp();
    const procRoot = await proc();
    const mid: Step[] = [steps[1]!, steps[0]!, steps[3]!];
    const r = await applySteps(mid, { ipBin: ip.bin, procRoot, renderer });
    expect(r.ok && r.ipProcesses).toBe(2);
    expect((await ip.calls()).map((c) => c.stdin)).toEqual([
      'link add storage type vrf table 1001\n',
      'link set dev ens4 master storage\n',
    ]);
  });

  it('an empty plan starts nothing', async () => {
    const ip = await fakeIp();
    expect(await applySteps([], { ipBin: ip.bin, renderer })).toEqual({ ok: true, applied: [], ipProcesses: 0 });
    expect(await ip.calls()).toHaveLength(0);
  });
});

describe('applySteps with the real renderer', () => {
  it('runs lines that need `-6` in their own `ip -6 -batch -` process, in plan order', async () => {
    const { renderStep, renderCommand } = await import('../../../src/vrf/render.js');
    const ip = await fakeIp();
    const plan: Step[] = [
      { kind: 'vrf-create', name: 'storage', table: 1001 },
      { kind: 'rule-add', rule: { family: 'inet6', priority: 32765, table: 255 }, why: 'move local' },
      { kind: 'rule-del', rule: { family: 'inet6', priority: 0, table: 255 }, why: 'move local' },
      { kind: 'link-up', dev: 'storage' },
    ];
    const r = await applySteps(plan, { ipBin: ip.bin, renderer: { renderStep, renderCommand } });
    expect(r.ok && r.ipProcesses).toBe(3);
    const calls = await ip.calls();
    expect(calls.map((c) => c.argv)).toEqual([
      ['-batch', '-'],
      ['-6', '-batch', '-'],
      ['-batch', '-'],
    ]);
    expect(calls[1]!.stdin).not.toMatch(/^-6/m);
    expect(calls[0]!.stdin).toBe('link add name storage type vrf table 1001\n');
  });

  it('a failing -6 line is mapped back to its step', async () => {
    const { renderStep, renderCommand } = await import('../../../src/vrf/render.js');
    const ip = await fakeIp();
    await ip.failOn('rule del', 'RTNETLINK answers: No such file or directory');
    const plan: Step[] = [
      { kind: 'rule-add', rule: { family: 'inet6', priority: 32765, table: 255 }, why: 'move local' },
      { kind: 'rule-del', rule: { family: 'inet6', priority: 0, table: 255 }, why: 'move local' },
    ];
    const r = await applySteps(plan, { ipBin: ip.bin, renderer: { renderStep, renderCommand } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.index).toBe(1);
    expect(r.failure.command).toMatch(/^ip -6 rule del/);
    expect(r.failure.error).toBe('RTNETLINK answers: No such file or directory');
    expect(r.applied).toHaveLength(1);
  });
});
