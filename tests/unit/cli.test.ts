import { jest } from '@jest/globals';
import { build } from 'esbuild';
import { execa } from 'execa';
import { lstat, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { EXIT, main, USAGE } from '../../src/cli.js';
import { BOOT_PATHS } from '../../src/vrf/boot.js';
import { PATHS, readState, under } from '../../src/vrf/persist.js';
import type { EngineDeps } from '../../src/vrf/engine.js';
import { execaSpawn, type Spawn } from '../../src/vrf/ip.js';
import { fakeSystemd, SYSTEMCTL } from './vrf/services/systemd.fake.js';
import { maasInputs, modelledHost, testHost, type TestHost } from './vrf/engine.host.js';

// Every fake ip call is a node process: generous timeouts on a shared 2-core machine.
jest.setTimeout(60_000);

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(
  argv: string[],
  extra: { cliPath?: string; deps?: Partial<EngineDeps>; spawn?: Spawn } = {},
): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), ...extra });
  return { code, out, err };
}

const hostArgs = (h: TestHost) => [
  '--root',
  h.root,
  '--proc-root',
  h.procRoot,
  '--sys-root',
  h.sysRoot,
  '--ip',
  h.ip.bin,
  '--lock-timeout',
  '5',
];
const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

/** The maas-host inputs as a desired-state file (the engine inputs: config options, bindings, controllers). */
async function desiredFile(dir: string, config: Record<string, unknown> = {}, ext = 'yaml'): Promise<string> {
  const i = maasInputs();
  const doc = { config, bindings: i.bindings, controllers: i.controllers, netplan: {} };
  const p = join(dir, `desired.${ext}`);
  await writeFile(p, ext === 'json' ? JSON.stringify(doc) : stringify(doc));
  return p;
}

describe('vrf-host CLI: usage', () => {
  it('--help prints the usage and exits 0', async () => {
    expect(await run(['--help'])).toEqual({ code: 0, out: USAGE, err: '' });
  });

  it.each([
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['apply'], /apply needs --file FILE or --from-state/],
    [['plan', '--file', 'x', '--from-state'], /--file and --from-state exclude each other/],
    [['apply', '--bogus'], /Unknown option '--bogus'/],
    [['teardown', '--file', 'x'], /teardown takes no --file/],
    [['apply', '--from-state', '--unit', 'a b'], /--unit: "a b" is not a unit name/],
    [['apply', '--from-state', '--lock-timeout', 'soon'], /--lock-timeout: "soon" is not a number/],
    [['plan', 'extra', '--from-state'], /unexpected argument "extra"/],
  ])('%j is a usage error (exit 2)', async (argv, re) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(re);
    expect(r.err).toContain('Usage: vrf-host');
  });
});

describe('vrf-host CLI: the desired-state file', () => {
  it.each([
    ['invalid YAML', 'config: [\n', /desired\.yaml: invalid YAML/],
    ['a missing field', stringify({ config: {} }), /desired\.yaml: bindings: /],
    ['an unknown field', stringify({ bindings: {}, extra: 1 }), /desired\.yaml: .*extra/],
    [
      'a bad interface',
      stringify({ bindings: { storage: [{ name: 'bond0', addresses: [{ address: '10.0.0.1' }] }] } }),
      /bindings\.storage\.0\.addresses\.0\.cidr/,
    ],
    [
      'bad config',
      stringify({ bindings: {}, config: { 'table-range': '10-5' } }),
      /desired\.yaml: config: table-range/,
    ],
  ])('refuses %s with exit 3, naming the field', async (_what, text, re) => {
    const h = await testHost();
    const f = join(h.root, '..', 'desired.yaml');
    await writeFile(f, text);
    const r = await run(['apply', '--file', f, ...hostArgs(h)]);
    expect(r.code).toBe(EXIT.blocked);
    expect(r.err).toMatch(re);
    expect(await h.ip.calls()).toEqual([]);
  });
});

describe('vrf-host CLI on a recorded host', () => {
  it('plan prints the ip commands and applies nothing', async () => {
    const h = await testHost();
    const f = await desiredFile(join(h.root, '..'));
    const r = await run(['plan', '--file', f, ...hostArgs(h)]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^\d+ step\(s\):\n/);
    expect(r.out).toContain('  ip link set dev bond0 master storage\n');
    expect(r.out).toContain('mgmt stays in main (same-as-default): ens3');
    expect(await readState(h.root)).toBeNull();
  });

  it('plan with services in the file prints the services steps after the ip steps; a bad entry exits 3 naming it', async () => {
    const h = await testHost();
    const sd = await fakeSystemd(h.root, h.procRoot, [
      { name: 'chrony.service', fragment: '[Service]\nExecStart=/usr/sbin/chronyd\n' },
      { name: 'web.service', fragment: '[Service]\nUser=nobody\nExecStart=/usr/bin/web\n', user: 'nobody' },
    ]);
    const spawn = sd.spawn(execaSpawn);
    const dir = join(h.root, '..');
    const ok = await desiredFile(dir, { services: { 'chrony.service': 'storage' } });
    const r = await run(['plan', '--file', ok, '--systemctl', SYSTEMCTL, ...hostArgs(h)], { spawn });
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('  ip link set dev bond0 master storage\n');
    expect(r.out).toContain(
      'then 3 services step(s):\n' +
        '  write /etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf\n' +
        '  systemctl daemon-reload\n' +
        '  systemctl try-restart -- chrony.service  # placed\n',
    );
    const bad = await desiredFile(dir, { services: 'web.service: storage' });
    const b = await run(['apply', '--file', bad, '--systemctl', SYSTEMCTL, ...hostArgs(h)], { spawn });
    expect(b.code).toBe(EXIT.blocked);
    expect(b.err).toMatch(/^blocked: services: web\.service runs as User=nobody: ip vrf exec must run as root/m);
    expect(await readState(h.root)).toBeNull();
    expect((await h.ip.calls()).filter((c) => !c.argv.includes('-json'))).toEqual([]);
  });

  it('apply converges, writes the state and installs the boot unit from its own path; --json gives the report', async () => {
    const h = await testHost();
    const dir = join(h.root, '..');
    const f = await desiredFile(dir, { vrfs: { storacc: { binding: 'storage', table: 20 } } }, 'json');
    const self = join(dir, 'vrf-host.mjs');
    await writeFile(self, '// bundle\n');
    const m = modelledHost();
    const model = { deps: m.deps, spawn: m.spawn };
    const r = await run(['apply', '--file', f, '--unit', 'vrf-host/0', '--json', ...hostArgs(h)], {
      cliPath: self,
      ...model,
    });
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out) as { ok: boolean; applied: { command: string }[] };
    expect(report.ok).toBe(true);
    expect(report.applied.map((a) => a.command)).toContain('ip link add name storacc type vrf table 20');
    expect((await readState(h.root))!.ledger.vrfs).toEqual({ storacc: 20 });
    expect(await readFile(under(h.root, BOOT_PATHS.cli), 'utf8')).toBe('// bundle\n');

    const replay = await run(['apply', '--from-state', '--quiet', ...hostArgs(h)], model);
    expect(replay).toMatchObject({ code: EXIT.ok, out: '' });

    const shown = await run(['show', ...hostArgs(h)], model);
    expect(shown.code).toBe(EXIT.ok);
    expect(shown.out).toMatch(/storacc\s+20\s+bond0/);

    await h.serve('maas-host');
    const refused = await run(['teardown', ...hostArgs(h)]);
    expect(refused.code).toBe(EXIT.blocked);
    expect(refused.err).toMatch(/blocked: units: vrf-host\/0 still use this machine's VRFs/);
    const td = await run(['teardown', '--force', ...hostArgs(h)]);
    expect(td.code).toBe(EXIT.ok);
    // The fake host never had storacc: only the sysctls go back.
    expect(td.out).toMatch(/^ran 5 step\(s\):\n {2}sysctl -w net\.ipv4\.tcp_l3mdev_accept=0\n/);
    expect(await exists(under(h.root, PATHS.state))).toBe(false);
    expect(await exists(under(h.root, BOOT_PATHS.unit))).toBe(false);
  });

  it('check-gateways prints one line per probe and exits 0 even when a gateway is unreachable', async () => {
    const h = await testHost();
    const f = await desiredFile(join(h.root, '..'));
    const m = modelledHost();
    const applied = await run(['apply', '--file', f, '--unit', 'vrf-host/0', ...hostArgs(h)], m);
    expect(applied.code).toBe(EXIT.ok);
    const ok =
      '3 packets transmitted, 3 received, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms\n';
    const lost = '3 packets transmitted, 0 received, 100% packet loss, time 2003ms\n';
    await h.ip.ping({ '10.10.4.1': { stdout: ok }, '2001:db8:4::1': { stdout: lost, code: 1 } });
    const r = await run(['check-gateways', '--vrf', 'storage', ...hostArgs(h)]);
    expect(r).toEqual({
      code: EXIT.ok,
      out: 'storage inet 10.10.4.1 (gateway): reachable loss 0% rtt 0.2ms\nstorage inet6 2001:db8:4::1 (gateway): UNREACHABLE loss 100%\n',
      err: '',
    });
    const bad = await run(['check-gateways', '--vrf', 'nope', ...hostArgs(h)]);
    expect(bad.code).toBe(EXIT.blocked);
    expect(bad.err).toMatch(/vrf: "nope" is not one of vrf-host's VRFs/);
  });

  it('--no-boot leaves the boot unit alone', async () => {
    const h = await testHost();
    const dir = join(h.root, '..');
    const f = await desiredFile(dir);
    const self = join(dir, 'vrf-host.mjs');
    await writeFile(self, '// bundle\n');
    const m = modelledHost();
    const r = await run(['apply', '--file', f, '--no-boot', ...hostArgs(h)], { cliPath: self, ...m });
    expect(r.code).toBe(EXIT.ok);
    expect(await exists(under(h.root, BOOT_PATHS.unit))).toBe(false);
  });

  it('a host that kept changing under the applies exits 1 and names what stayed pending', async () => {
    const h = await testHost();
    const f = await desiredFile(join(h.root, '..'));
    // Something on the host deletes the storage VRF after every apply.
    const m = modelledHost((host) => ({ ...host, links: host.links.filter((l) => l.name !== 'storage') }));
    const r = await run(['apply', '--file', f, ...hostArgs(h)], m);
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(
      /^not converged: the host kept changing while vrf-host applied: after 3 apply rounds, \d+ changes were still pending: `ip link add name storage type vrf table \d+`/m,
    );
  });

  it('a failing step exits 1 and names it', async () => {
    const h = await testHost();
    await h.ip.failOn('master storage$', 'Error: argument "storage" is wrong: Device does not exist');
    const f = await desiredFile(join(h.root, '..'));
    const r = await run(['apply', '--file', f, ...hostArgs(h)]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(
      /failed at step \d+: ip link set dev bond0 master storage\n {2}Error: argument "storage" is wrong: Device does not exist/,
    );
  });

  it('a failed pre-flight check exits 3 with the problem', async () => {
    const h = await testHost('maas-host', { vrfModule: false, container: true });
    const f = await desiredFile(join(h.root, '..'));
    const r = await run(['apply', '--file', f, ...hostArgs(h)]);
    expect(r.code).toBe(EXIT.blocked);
    expect(r.err).toBe(
      'blocked: kernel: no vrf kernel module: load it on the host (modprobe vrf); a container cannot load modules\n',
    );
  });

  it('a missing ip binary is exit 3 (pre-flight), a lock held too long is exit 4', async () => {
    const h = await testHost();
    const f = await desiredFile(join(h.root, '..'));
    const noIp = await run(['plan', '--file', f, ...hostArgs(h), '--ip', '/nonexistent/ip']);
    expect(noIp.code).toBe(EXIT.blocked);
    expect(noIp.err).toMatch(/iproute2: cannot run `ip -V`/);
    await mkdir(under(h.root, 'run'), { recursive: true });
    // The holder says "locked" once flock(1) holds the lock, then waits for its stdin to close.
    const holder = execa(
      'flock',
      ['-x', under(h.root, 'run/vrf-host.lock'), 'sh', '-c', 'echo locked; cat >/dev/null'],
      {
        reject: false,
        stdin: 'pipe',
      },
    );
    await new Promise<void>((res, rej) => {
      holder.stdout.on('data', (b: Buffer) => (b.toString().includes('locked') ? res() : undefined));
      holder.on('exit', () => rej(new Error('flock exited before locking')));
    });
    const locked = await run(['apply', '--file', f, ...hostArgs(h), '--lock-timeout', '0.2']);
    holder.stdin.end();
    await holder;
    expect(locked.code).toBe(EXIT.error);
    expect(locked.err).toMatch(/LockTimeoutError: another vrf-host run holds .*vrf-host\.lock/);
  }, 20_000);
});

describe('the bundled CLI runs as a plain node program', () => {
  it('bundles with esbuild and answers --help and a usage error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vrf-cli-'));
    const out = join(dir, 'vrf-host.mjs');
    await build({
      entryPoints: [resolve('src/cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      logLevel: 'silent',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const help = await execa(process.execPath, [out, '--help'], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: vrf-host COMMAND');
    const bad = await execa(process.execPath, [out, 'apply'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('apply needs --file FILE or --from-state');
  }, 30_000);
});
