/**
 * End to end: build and pack the charm, check both layouts, then run the PACKED charm's
 * dispatch (unzipped outside the repo, so no node_modules can help it) under the
 * hook-tool simulator, as the Juju agent would.
 */
import { canonicalCalls } from './calls.js';
import { isBuiltin } from 'node:module';
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import YAML from 'yaml';
import {
  createSimulator,
  runDispatch,
  unpackCharm,
  type Simulator,
  type ZipEntryInfo,
} from '../../src/ops/testing/simulator/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = join(ROOT, 'build/charm');
const CHARM_FILE = join(ROOT, 'vrf-host.charm');

let work: string;
let charmDir: string; // the packed charm, unzipped
let entries: ZipEntryInfo[];
let expectedHooks: string[];
let builtFiles: string[]; // build/charm's files right after the pack, relative

/** The charm without bin/node: what dispatch does with the machine's node alone. */
let noNodeDir: string;
/** The Node.js package-lock.json pins for the charm's bin/node. */
let pinned: { version: string; pkg: string };

beforeAll(async () => {
  // tests/e2e/global-setup.mjs packed it once for every e2e file (as it ships, with bin/node).
  builtFiles = (await readdir(BUILT, { recursive: true, withFileTypes: true }))
    .filter((d) => !d.isDirectory())
    .map((d) => relative(BUILT, join(d.parentPath, d.name)))
    .sort();
  work = await mkdtemp(join(tmpdir(), 'vrf-host-e2e-'));
  charmDir = join(work, 'charm');
  entries = await unpackCharm(CHARM_FILE, charmDir);
  noNodeDir = join(work, 'charm-without-node');
  await cp(charmDir, noNodeDir, { recursive: true, filter: (src) => src !== join(charmDir, 'bin') });
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version: string }>;
  };
  const pkg = `node-linux-${process.arch}`;
  pinned = { pkg, version: lock.packages[`node_modules/${pkg}`]?.version ?? 'not pinned' };
  const metadata = YAML.parse(await readFile(join(ROOT, 'metadata.yaml'), 'utf8')) as {
    requires: Record<string, unknown>;
  };
  const standard = [
    'install',
    'config-changed',
    'start',
    'stop',
    'remove',
    'update-status',
    'upgrade-charm',
    'leader-elected',
  ];
  const relation = Object.keys(metadata.requires).flatMap((ep) =>
    ['created', 'joined', 'changed', 'departed', 'broken'].map((k) => `${ep}-relation-${k}`),
  );
  expectedHooks = [...standard, ...relation].sort();
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

async function sim(state: Parameters<typeof createSimulator>[0] = {}): Promise<Simulator> {
  return createSimulator({ dir: await mkdtemp(join(work, 'sim-')), ...state });
}

describe('build/charm layout', () => {
  test('dispatch is executable, hooks link to it, charm files, the launcher and the bundles', async () => {
    expect((await stat(join(BUILT, 'dispatch'))).mode & 0o777).toBe(0o755);
    const hooks = (await readdir(join(BUILT, 'hooks'))).sort();
    expect(hooks).toEqual(expectedHooks);
    for (const h of hooks) {
      expect((await lstat(join(BUILT, 'hooks', h))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(BUILT, 'hooks', h))).toBe('../dispatch');
    }
    for (const f of ['metadata.yaml', 'config.yaml', 'actions.yaml']) {
      expect(await readFile(join(BUILT, f), 'utf8')).toBe(await readFile(join(ROOT, f), 'utf8'));
    }
    // (dot files: the launcher's V8 code cache, once a hook ran from this directory)
    const dist = (await readdir(join(BUILT, 'dist'))).filter((f) => !f.startsWith('.')).sort();
    expect(dist).toEqual(['launch.cjs', 'memo.sh', 'vrf-host-cli.mjs', 'vrf-host.cjs']);
    // The memo's sh dispatch sources: src/charm/memo.sh with this build's id in front.
    const memoSh = await readFile(join(BUILT, 'dist/memo.sh'), 'utf8');
    expect(memoSh).toMatch(
      /^# Written by scripts\/build\.mjs from src\/charm\/memo\.sh\.\nvrf_memo_build=[0-9a-f]{24}\n/,
    );
    expect(memoSh.endsWith(await readFile(join(ROOT, 'src/charm/memo.sh'), 'utf8'))).toBe(true);
    for (const f of dist.filter((x) => x !== 'memo.sh')) {
      const bundle = await readFile(join(BUILT, 'dist', f), 'utf8');
      // Self-contained: the only imports left are node builtins (and the launcher's import of the charm).
      const specifiers = [
        ...bundle.matchAll(
          /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/gm,
        ),
      ].map((m) => m[1] ?? m[2] ?? m[3]);
      // (the launcher is lowered for an old Node, which knows `path`, not `node:path`)
      expect({ f, bare: specifiers.filter((x) => x !== undefined && !isBuiltin(x)) }).toEqual({ f, bare: [] });
    }
    // The launcher is what every hook dispatch does not answer itself loads first: small, and lowered for an old Node.
    const launcher = await readFile(join(BUILT, 'dist/launch.cjs'), 'utf8');
    expect(launcher.length).toBeLessThan(24 * 1024);
    expect(launcher).not.toMatch(/\?\?|\?\./);
  }, 60_000);

  test("manifest.yaml declares ubuntu 22.04 and 24.04 on bin/node's architecture", async () => {
    const manifest = YAML.parse(await readFile(join(BUILT, 'manifest.yaml'), 'utf8')) as { bases: unknown };
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    expect(manifest.bases).toEqual([
      { name: 'ubuntu', channel: '22.04', architectures: [arch] },
      { name: 'ubuntu', channel: '24.04', architectures: [arch] },
    ]);
  }, 60_000);

  test('charmcraft.yaml: ubuntu 22.04 and 24.04 on amd64 and arm64, bin/node from the pinned package (no snap)', async () => {
    const cc = YAML.parse(await readFile(join(ROOT, 'charmcraft.yaml'), 'utf8')) as {
      platforms: Record<string, unknown>;
      parts: Record<string, { 'override-build': string }>;
      analysis: { ignore: { linters: string[] } };
    };
    expect(Object.keys(cc.platforms).sort()).toEqual([
      'ubuntu@22.04:amd64',
      'ubuntu@22.04:arm64',
      'ubuntu@24.04:amd64',
      'ubuntu@24.04:arm64',
    ]);
    const build = cc.parts['vrf-host']?.['override-build'] ?? '';
    expect(build).toMatch(/^\s*npm ci\b/m);
    expect(build).toMatch(/^\s*node scripts\/pack\.mjs --arch "\$CRAFT_ARCH_BUILD_FOR" --tree-only$/m);
    expect(build).not.toMatch(/\/snap\//);
    expect(cc.analysis.ignore.linters).toEqual(['entrypoint']);
  }, 60_000);

  test('metadata: subordinate on juju-info with the space roles as extra-bindings', async () => {
    const md = YAML.parse(await readFile(join(BUILT, 'metadata.yaml'), 'utf8')) as Record<string, unknown>;
    expect(md['name']).toBe('vrf-host');
    expect(md['display-name']).toBe('VRF host');
    expect(typeof md['summary']).toBe('string');
    expect(md['description']).toMatch(/its own\s+VRF, with its own routing table and default gateway/);
    expect(md['assumes']).toEqual(['juju >= 2.9']);
    expect(md['subordinate']).toBe(true);
    expect(md['requires']).toEqual({ 'juju-info': { interface: 'juju-info', scope: 'container' } });
    expect(Object.keys(md['extra-bindings'] as object)).toEqual([
      'mgmt',
      'public',
      'internal',
      'admin',
      'storage',
      'storage-cluster',
      'tenant',
    ]);
  }, 60_000);
});

describe('vrf-host.charm (zip)', () => {
  test('holds the build/charm files, hooks as executable copies of dispatch', () => {
    const files = entries.filter((e) => !e.name.endsWith('/'));
    const names = files.map((e) => e.name).sort();
    // Exactly the build's files (nothing else, nothing missing)…
    expect(names).toEqual(builtFiles);
    // …which hold at least the charm's own.
    for (const f of [
      'actions.yaml',
      'config.yaml',
      'dispatch',
      'dist/launch.cjs',
      'dist/vrf-host.cjs',
      'manifest.yaml',
      'metadata.yaml',
      ...expectedHooks.map((h) => `hooks/${h}`),
    ]) {
      expect(names).toContain(f);
    }
    const dispatch = files.find((e) => e.name === 'dispatch');
    expect(dispatch?.madeBy).toBe(3); // unix: Juju reads the mode from the external attributes
    expect(dispatch?.mode).toBe(0o100755);
    for (const e of files.filter((f) => f.name.startsWith('hooks/'))) {
      expect(e.mode).toBe(0o100755);
      expect(e.data.equals(dispatch?.data ?? Buffer.alloc(0))).toBe(true);
    }
    expect(files.find((e) => e.name === 'metadata.yaml')?.mode).toBe(0o100644);
  }, 60_000);
});

describe('the packed dispatch under the hook-tool simulator', () => {
  // These prove the dispatch path, whatever the charm decides: the charm runs in dry-run
  // mode and network-get has no address yet, so nothing on this host is touched.
  const STATE = { config: { 'dry-run': true } };
  const STATUS_ARGV = [
    '--application=false',
    expect.stringMatching(/^(active|blocked|waiting|maintenance)$/),
    '--',
    expect.any(String),
  ];

  test('install: the charm runs and collect-status sets a status with the documented argv', async () => {
    const s = await sim({ state: STATE });
    const run = await runDispatch(charmDir, 'hooks/install', s);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const sets = run.record.calls.filter((c) => c.tool === 'status-set');
    expect(sets.length).toBeGreaterThan(0);
    for (const c of sets) expect(c.argv).toEqual(STATUS_ARGV);
    expect(run.record.calls.every((c) => c.exit === 0 || c.tool === 'network-get')).toBe(true);
  }, 60_000);

  test('an old agent running hooks/install itself: dispatch derives JUJU_DISPATCH_PATH from $0', async () => {
    const calls = async (legacyHook: boolean) => {
      const s = await sim({ state: STATE });
      const run = await runDispatch(charmDir, 'hooks/install', s, { legacyHook });
      expect(run.exitCode).toBe(0);
      expect(run.env['JUJU_DISPATCH_PATH']).toBe(legacyHook ? undefined : 'hooks/install');
      return canonicalCalls(run.record.calls).map((c) => [c.tool, ...c.argv]);
    };
    // The same event reached the charm: the same hook-tool calls, in the same order (the concurrent reads sorted).
    expect(await calls(true)).toEqual(await calls(false));
  }, 60_000);

  test('action show-vrfs: params come from action-get, results go to action-set', async () => {
    const s = await sim({ state: STATE });
    const run = await runDispatch(charmDir, 'actions/show-vrfs', s, { params: { routes: true } });
    expect(run.exitCode).toBe(0);
    expect(run.record.calls.filter((c) => c.tool === 'action-get').map((c) => c.argv)).toEqual([['--format=json']]);
    expect(run.record.actionFailure).toBeNull();
    expect(Object.keys(run.record.actionResults).length).toBeGreaterThan(0);
    for (const c of run.record.calls.filter((x) => x.tool === 'action-set')) {
      expect(c.exit).toBe(0);
      for (const pair of c.argv) expect(pair).toMatch(/^[a-z0-9][a-z0-9.-]*=/);
    }
  }, 60_000);

  test('action with invalid params: action-fail names the param, no results', async () => {
    const s = await sim({ state: STATE });
    const run = await runDispatch(charmDir, 'actions/show-vrfs', s, { params: { routes: 'yes please' } });
    expect(run.record.actionFailure).toMatch(/routes/);
    expect(run.record.actionResults).toEqual({});
  }, 60_000);

  test('a hook tool missing from PATH: a clear line naming it, and a non-zero exit', async () => {
    const s = await sim({ state: STATE, omit: ['status-set'] });
    const run = await runDispatch(charmDir, 'hooks/install', s);
    expect(run.exitCode).not.toBe(0);
    const said = [...run.record.logs.filter((l) => l.level === 'ERROR').map((l) => l.message), run.stderr].join('\n');
    expect(said).toMatch(/status-set/);
  }, 60_000);
});

describe('dispatch picks its Node.js', () => {
  // PATH for these runs: the simulator's tools (which run node by absolute path) and
  // one directory we control; sh builtins do the rest.
  async function pathDir(node?: string): Promise<string> {
    const dir = await mkdtemp(join(work, 'path-'));
    if (node !== undefined) {
      await writeFile(join(dir, 'node'), node);
      await chmod(join(dir, 'node'), 0o755);
    }
    return dir;
  }

  const BLOCKED = expect.stringMatching(/^(Node\.js v16\.20\.2 is too old|no Node\.js) for vrf-host \(needs >= 22\)/);

  test('no bin/node and no node on PATH: blocked, exit 0, says why on stderr and juju-log', async () => {
    const s = await sim();
    const run = await runDispatch(noNodeDir, 'hooks/install', s, { env: { PATH: await pathDir() } });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/no usable Node\.js.*bin\/node is absent.*no node >= 22/);
    expect(run.record.logs).toEqual([
      { level: 'ERROR', message: expect.stringMatching(/^vrf-host dispatch: no usable Node\.js/) },
    ]);
    expect(run.record.statusHistory).toEqual([{ status: 'blocked', message: BLOCKED }]);
  }, 60_000);

  /** A node on PATH that reports 16.20.2 (the launcher reads process.versions, not `node --version`). */
  async function node16Dir(): Promise<string> {
    const pre = join(work, 'node16.cjs');
    await writeFile(pre, "Object.defineProperty(process.versions, 'node', { value: '16.20.2' });\n");
    return pathDir(`#!/bin/sh\nexec '${process.execPath}' -r '${pre}' "$@"\n`);
  }

  test('a node older than 22 on PATH is refused, naming its version: blocked, exit 0', async () => {
    const s = await sim();
    const dir = await node16Dir();
    const run = await runDispatch(noNodeDir, 'hooks/install', s, { env: { PATH: dir } });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain(`${dir}/node (v16.20.2)`);
    expect(run.record.logs).toEqual([
      { level: 'ERROR', message: expect.stringMatching(/^vrf-host dispatch: no usable Node\.js.*v16\.20\.2/) },
    ]);
    expect(run.record.statusHistory).toEqual([{ status: 'blocked', message: BLOCKED }]);
  }, 60_000);

  test("the refusal forgets the unit's last status, so the next hook with a usable Node sets its own", async () => {
    const root = await mkdtemp(join(work, 'root-'));
    const memory = join(root, 'var/lib/vrf-host/memo/vrf-host-0.status.json');
    await mkdir(join(root, 'var/lib/vrf-host/memo'), { recursive: true });
    await writeFile(memory, JSON.stringify({ argv: ['status-set', '--application=false', 'active', '--', '2 VRFs'] }));
    const run = await runDispatch(noNodeDir, 'hooks/update-status', await sim(), {
      env: { PATH: await node16Dir(), VRF_HOST_ROOT: root },
    });
    expect(run.record.statusHistory).toEqual([{ status: 'blocked', message: BLOCKED }]);
    await expect(stat(memory)).rejects.toThrow(/ENOENT/);
  }, 60_000);

  test('without a usable node, remove exits 1 (Juju retries it) and an action fails with the reason', async () => {
    for (const path of [await pathDir(), await node16Dir()]) {
      const remove = await runDispatch(noNodeDir, 'hooks/remove', await sim(), { env: { PATH: path } });
      expect(remove.exitCode).toBe(1);
      const action = await runDispatch(noNodeDir, 'actions/show-vrfs', await sim(), { env: { PATH: path } });
      expect(action.exitCode).toBe(0);
      expect(action.record.actionFailure).toEqual(BLOCKED);
      expect(action.record.statusHistory).toEqual([]);
    }
  }, 60_000);

  test('bin/node is preferred over the node on PATH', async () => {
    const copy = join(work, 'with-bin-node');
    await cp(noNodeDir, copy, { recursive: true });
    await mkdir(join(copy, 'bin'));
    const marker = join(work, 'bin-node-ran');
    await writeFile(join(copy, 'bin/node'), `#!/bin/sh\necho "$@" > '${marker}'\nexec '${process.execPath}' "$@"\n`);
    await chmod(join(copy, 'bin/node'), 0o755);
    const s = await sim({ state: { config: { 'dry-run': true } } });
    const run = await runDispatch(copy, 'hooks/start', s, { env: { PATH: await pathDir('#!/bin/sh\nexit 99\n') } });
    expect(run.exitCode).toBe(0);
    expect((await readFile(marker, 'utf8')).trim()).toBe(join(await realpath(copy), 'dist/launch.cjs'));
  }, 60_000);
});

describe('the packed bin/node: the pinned official Node.js', () => {
  async function readelf(args: string[], file: string): Promise<string> {
    return (await execa('readelf', [...args, file], { env: { LC_ALL: 'C' } })).stdout;
  }

  test("its ELF asks for glibc's standard interpreter (no snap paths) and the build machine's machine type", async () => {
    expect(entries.find((e) => e.name === 'bin/node')?.mode).toBe(0o100755);
    const node = join(charmDir, 'bin/node');
    const headers = await readelf(['-lh'], node);
    const interp = /\[Requesting program interpreter: ([^\]]+)\]/.exec(headers)?.[1];
    expect(interp).toBe(process.arch === 'x64' ? '/lib64/ld-linux-x86-64.so.2' : '/lib/ld-linux-aarch64.so.1');
    expect(/^\s*Machine:\s+(.+)$/m.exec(headers)?.[1]).toBe(
      process.arch === 'x64' ? 'Advanced Micro Devices X86-64' : 'AArch64',
    );
    // No RUNPATH/RPATH (a snap build points them into /snap) and no path into /snap anywhere in the dynamic section.
    const dynamic = await readelf(['-d'], node);
    expect(dynamic).not.toMatch(/RUNPATH|RPATH|\/snap\//);
    expect(headers).not.toMatch(/\/snap\//);
  }, 60_000);

  test('it is the version package-lock.json pins, and the charm runs with no node on PATH', async () => {
    const { stdout } = await execa(join(charmDir, 'bin/node'), ['--version'], { env: {}, extendEnv: false });
    expect(stdout).toBe(`v${pinned.version}`);
    const s = await sim({ state: { config: { 'dry-run': true } } });
    const empty = await mkdtemp(join(work, 'empty-path-'));
    const run = await runDispatch(charmDir, 'hooks/install', s, { env: { PATH: empty } });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.record.statusHistory.length).toBeGreaterThan(0);
  }, 60_000);

  test('npm run pack -- --arch arm64 packs an aarch64 node of the same version, and says so in manifest.yaml', async () => {
    const out = join(work, 'vrf-host-arm64.charm');
    await execa(
      'flock',
      [join(ROOT, 'build/.pack.lock'), process.execPath, 'scripts/pack.mjs', '--arch', 'arm64', '--out', out],
      { cwd: ROOT },
    );
    const dir = join(work, 'arm64');
    await unpackCharm(out, dir);
    const headers = await readelf(['-lh'], join(dir, 'bin/node'));
    expect(/^\s*Machine:\s+(.+)$/m.exec(headers)?.[1]).toBe('AArch64');
    expect(/\[Requesting program interpreter: ([^\]]+)\]/.exec(headers)?.[1]).toBe('/lib/ld-linux-aarch64.so.1');
    // The version string is in the binary's .rodata as "vX.Y.Z" (this machine cannot run it).
    expect((await readFile(join(dir, 'bin/node'))).includes(`v${pinned.version}`)).toBe(true);
    const manifest = YAML.parse(await readFile(join(dir, 'manifest.yaml'), 'utf8')) as { bases: unknown };
    expect(manifest.bases).toEqual([
      { name: 'ubuntu', channel: '22.04', architectures: ['arm64'] },
      { name: 'ubuntu', channel: '24.04', architectures: ['arm64'] },
    ]);
  }, 240_000);
});
