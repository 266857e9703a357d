import {
  batchInput,
  failedBatchLine,
  failedBatchLines,
  ipVersion,
  ipVrfExec,
  modprobe,
  runIpBatch,
  runIpJsonBatch,
  tokenProblem,
  UnsafeTokenError,
  ProcessError,
  type Spawn,
} from '../../../src/vrf/ip.js';
import { existsSync } from 'node:fs';
import { fakeIp } from './ip.fake.js';
import { OBSERVE_IP_OPTIONS } from '../../../src/vrf/observe.js';

describe('batch lines', () => {
  it.each([
    ['a b', 'whitespace'],
    ['a\tb', 'whitespace'],
    ['x\ny', 'whitespace'],
    ['"q"', 'quote'],
    ["it's", 'quote'],
    ['#c', "'#'"],
    ['trail\\', 'backslash'],
    ['', 'empty'],
  ])('refuses the token %j', (tok, why) => {
    expect(tokenProblem(tok)).toContain(why);
    expect(() => batchInput([['link', 'show', tok]])).toThrow(UnsafeTokenError);
  });

  it('joins safe tokens one command per line', () => {
    expect(
      batchInput([
        ['link', 'add', 'storage', 'type', 'vrf', 'table', '1001'],
        ['-6', 'route', 'show', 'table', 'all'],
      ]),
    ).toBe('link add storage type vrf table 1001\n-6 route show table all\n');
  });

  it('refuses an empty line (ip would skip it and the line numbers would shift)', () => {
    expect(() => batchInput([['link'], []])).toThrow(/line 2 is empty/);
  });

  it('reads the failing line from ip stderr', () => {
    expect(failedBatchLine('RTNETLINK answers: File exists\nCommand failed -:17\n')).toBe(17);
    expect(failedBatchLine('something else')).toBeNull();
    // Every failure of a -force batch, each with its whole line number.
    expect(
      failedBatchLines('RTNETLINK answers: No such process\nCommand failed -:3\nError\nCommand failed -:12\n'),
    ).toEqual([3, 12]);
  });
});

describe('with a fake ip', () => {
  it('runIpBatch sends every line to ONE `ip -batch -` process', async () => {
    const ip = await fakeIp();
    const r = await runIpBatch(
      [
        ['link', 'add', 'a', 'type', 'vrf', 'table', '10'],
        ['link', 'set', 'dev', 'a', 'up'],
      ],
      { ipBin: ip.bin },
    );
    expect(r).toEqual({ ok: true });
    const calls = await ip.calls();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv).toEqual(['-batch', '-']);
    expect(calls[0]!.stdin).toBe('link add a type vrf table 10\nlink set dev a up\n');
  });

  it('runIpBatch reports the 0-based failing line and ip stderr', async () => {
    const ip = await fakeIp();
    await ip.failOn('^link set dev b', 'Cannot find device "b"');
    const r = await runIpBatch(
      [
        ['link', 'set', 'dev', 'a', 'up'],
        ['link', 'set', 'dev', 'b', 'up'],
        ['link', 'set', 'dev', 'c', 'up'],
      ],
      { ipBin: ip.bin },
    );
    expect(r).toEqual({ ok: false, failedLine: 1, exitCode: 1, stderr: 'Cannot find device "b"\nCommand failed -:2' });
  });

  it('runIpBatch with no lines starts nothing', async () => {
    const ip = await fakeIp();
    expect(await runIpBatch([], { ipBin: ip.bin })).toEqual({ ok: true });
    expect(await ip.calls()).toHaveLength(0);
  });

  it('runIpJsonBatch returns stdout of `ip -json -details -batch -`', async () => {
    const ip = await fakeIp(undefined, { jsonOptions: ['-json', '-details'] });
    await ip.respond({ 'link show': '[{"ifname":"lo"}]', '-4 rule show': '[]' });
    const out = await runIpJsonBatch(
      [
        ['link', 'show'],
        ['-4', 'rule', 'show'],
      ],
      { ipBin: ip.bin },
    );
    expect(out).toBe('[{"ifname":"lo"}]\n[]\n');
    // The -4 line runs in a process of its own, at the same time: the call log may hold either first.
    expect((await ip.calls()).map((c) => c.argv)).toContainEqual(['-json', '-details', '-batch', '-']);
  });

  it('runIpJsonBatch names the failing command', async () => {
    const ip = await fakeIp(undefined, { jsonOptions: ['-json', '-details'] });
    await ip.respond({ 'link show': '[1]' });
    await ip.failOn('route get', 'RTNETLINK answers: Network is unreachable');
    await expect(
      runIpJsonBatch(
        [
          ['link', 'show'],
          ['route', 'get', '10.9.9.9'],
        ],
        { ipBin: ip.bin },
      ),
    ).rejects.toThrow(
      /`ip route get 10.9.9.9` \(batch line 2\) failed \(exit 1\): RTNETLINK answers: Network is unreachable/,
    );
  });

  it('runIpJsonBatch runs `-6` lines in their own `ip -6 …` process and keeps line order', async () => {
    const ip = await fakeIp();
    await ip.respond({ 'link show': '[1]', 'rule show': '[2]', '-6 rule show': '[3]' });
    const out = await runIpJsonBatch(
      [
        ['link', 'show'],
        ['rule', 'show'],
        ['-6', 'rule', 'show'],
      ],
      { ipBin: ip.bin, options: ['-json', '-details', '-Numeric'] },
    );
    expect(out).toBe('[1]\n[2]\n[3]\n');
    // The two processes run at once: which one the fake logs first is up to the scheduler.
    const calls = (await ip.calls()).map((c) => [c.argv, c.stdin]);
    expect(calls).toHaveLength(2);
    expect(calls).toEqual(
      expect.arrayContaining([
        [['-json', '-details', '-Numeric', '-batch', '-'], 'link show\nrule show\n'],
        [['-6', '-json', '-details', '-Numeric', '-batch', '-'], 'rule show\n'],
      ]),
    );
  });

  it('runIpJsonBatch tolerates failing lines it was told to (with -force), and only those', async () => {
    const ip = await fakeIp(undefined, { jsonOptions: ['-json', '-details'] });
    await ip.respond({ 'link show': '[1]', 'route get 10.0.0.9': '[9]' });
    await ip.failOn('route get 10.0.0.1', 'RTNETLINK answers: Network is unreachable');
    const tolerate = (l: readonly string[]) => l[0] === 'route' && l[1] === 'get';
    const lines = [
      ['link', 'show'],
      ['route', 'get', '10.0.0.1'],
      ['route', 'get', '10.0.0.9'],
    ];
    expect(await runIpJsonBatch(lines, { ipBin: ip.bin, tolerate })).toBe('[1]\n[9]\n');
    expect((await ip.calls())[0]!.argv).toContain('-force');
    await ip.failOn('link show', 'Cannot send dump request: Operation not permitted');
    await expect(runIpJsonBatch(lines, { ipBin: ip.bin, tolerate })).rejects.toThrow(
      /`ip link show` \(batch line 1\) failed/,
    );
  });

  it('the fake ip is strict: other options than production observes with, or a line it has no recording for, fail loudly', async () => {
    const ip = await fakeIp();
    await ip.respond({ 'link show': '[1]' });
    const production = { ipBin: ip.bin, options: OBSERVE_IP_OPTIONS };
    expect(await runIpJsonBatch([['link', 'show']], production)).toBe('[1]\n');
    // Without -Numeric: the recordings are what ip prints with it, so the fake refuses.
    await expect(runIpJsonBatch([['link', 'show']], { ipBin: ip.bin })).rejects.toThrow(
      /exit 255\): fake ip: ip -json -details -batch: the recordings answer ip -json -details -Numeric only/,
    );
    await expect(
      runIpJsonBatch(
        [
          ['link', 'show'],
          ['addr', 'show'],
        ],
        production,
      ),
    ).rejects.toThrow(/exit 255\): fake ip: no recording for the batch line "addr show"/);
    await expect(runIpJsonBatch([['-6', 'link', 'show']], production)).rejects.toThrow(
      /no recording for the batch line "-6 link show"/,
    );
  });

  it('ipVersion and ipVrfExec run argv, not a shell', async () => {
    const ip = await fakeIp();
    await ip.version('ip utility, iproute2-5.15.0, libbpf 0.5.0');
    expect(await ipVersion({ ipBin: ip.bin })).toBe('ip utility, iproute2-5.15.0, libbpf 0.5.0');
    await ip.ping({ '10.0.0.1': { stdout: 'ok', code: 0 } });
    const r = await ipVrfExec('storage', ['ping', '-c', '3', '10.0.0.1'], { ipBin: ip.bin });
    expect(r.exitCode).toBe(0);
    expect((await ip.calls()).at(-1)!.argv).toEqual(['vrf', 'exec', 'storage', 'ping', '-c', '3', '10.0.0.1']);
    await expect(ipVrfExec('storage', ['ping', '$(reboot)'], { ipBin: ip.bin })).resolves.toMatchObject({
      exitCode: 2,
    });
    await expect(ipVrfExec('a b', ['ping'], { ipBin: ip.bin })).rejects.toThrow(UnsafeTokenError);
  });

  it('a missing ip binary is a failure, not a crash', async () => {
    await expect(ipVersion({ ipBin: '/nonexistent/ip' })).rejects.toThrow(ProcessError);
  });
});

describe('modprobe', () => {
  it('runs `modprobe NAME` through the injected spawn and refuses odd names', async () => {
    const seen: string[][] = [];
    const spawn: Spawn = (file, args) => {
      seen.push([file, ...args]);
      return Promise.resolve({ exitCode: 1, stdout: '', stderr: 'modprobe: FATAL: Module vrf not found\n' });
    };
    expect(await modprobe('vrf', { spawn })).toEqual({ ok: false, stderr: 'modprobe: FATAL: Module vrf not found' });
    expect(seen).toEqual([['modprobe', 'vrf']]);
    await expect(modprobe('vrf; reboot', { spawn })).rejects.toThrow(UnsafeTokenError);
  });
});

// The real iproute2 of this machine, read-only commands only: proves what the
// fake assumes (ip stops at the first failing line and names it).
const realIp = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
(realIp ? describe : describe.skip)('with the real ip (read-only)', () => {
  it('runIpBatch stops at the first failing line and reports it', async () => {
    const r = await runIpBatch(
      [
        ['link', 'show', 'dev', 'lo'],
        ['link', 'show', 'dev', 'nosuch0vrf'],
        ['link', 'show', 'dev', 'lo'],
      ],
      { ipBin: realIp! },
    );
    expect(r).toMatchObject({ ok: false, failedLine: 1, exitCode: 1 });
    if (!r.ok) expect(r.stderr).toMatch(/Device "nosuch0vrf" does not exist/);
  });

  it('runIpJsonBatch prints one JSON document per line, -6 lines in their own process', async () => {
    const out = await runIpJsonBatch(
      [
        ['link', 'show', 'dev', 'lo'],
        ['rule', 'show'],
        ['-6', 'rule', 'show'],
      ],
      { ipBin: realIp!, options: ['-json', '-details', '-Numeric'] },
    );
    const docs = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown[]);
    expect(docs).toHaveLength(3);
    expect((docs[0]![0] as { ifname: string }).ifname).toBe('lo');
  });
});
