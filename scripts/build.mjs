#!/usr/bin/env node
// npm run build: lay out the charm in build/charm/ and bundle the TypeScript with esbuild.
// Layout (what `npm run pack` zips and Juju runs):
//   build/charm/dispatch              POSIX sh; runs dist/launch.cjs with Node
//   build/charm/hooks/NAME            symlinks to ../dispatch (the names in ./hooks)
//   build/charm/{metadata,config,actions}.yaml
//   build/charm/manifest.yaml         bases ubuntu 22.04 and 24.04, amd64/arm64 (as charmcraft writes it)
//   build/charm/dist/memo.sh          src/charm/memo.sh with the build id: dispatch answers update-status with it
//   build/charm/dist/launch.cjs       src/launch.ts: refuses an old Node, else loads vrf-host.cjs
//   build/charm/dist/vrf-host.cjs     src/main.ts, bundled (CommonJS, for the code cache): no node_modules at run time
//   build/charm/dist/vrf-host-cli.mjs src/cli.ts, bundled: the boot unit's copy comes from here
// Also: build/cli/vrf-host.mjs (src/cli.ts, when it exists) and
// build/simulator/{hook-tool,harness}.mjs (the out-of-process hook-tool simulator).
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import YAML from 'yaml';
import { generatedIsCurrent } from './gen-action-params.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD = join(ROOT, 'build');
export const CHARM = join(BUILD, 'charm');
export const ENTRY = 'dist/vrf-host.cjs';
/** What dispatch runs: the hook memo's fast path, else it loads ENTRY (with a V8 code cache). */
export const LAUNCHER = 'dist/launch.cjs';
/** The hook memo's sh, sourced by dispatch and run by the charm to record (src/charm/memo.sh). */
export const MEMO_SH = 'dist/memo.sh';
/** The Ubuntu releases the charm runs on (charmcraft.yaml's platforms say the same). */
export const CHANNELS = ['22.04', '24.04'];
export const ARCHITECTURES = ['amd64', 'arm64'];
/** Hooks every machine charm gets, besides its relation hooks. */
export const STANDARD_HOOKS = [
  'install',
  'config-changed',
  'start',
  'stop',
  'remove',
  'update-status',
  'upgrade-charm',
  'leader-elected',
];
export const RELATION_HOOK_KINDS = ['created', 'joined', 'changed', 'departed', 'broken'];

export class BuildError extends Error {
  /** @override */
  name = 'BuildError';
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
  }
}

const CHARM_FILES = ['metadata.yaml', 'config.yaml', 'actions.yaml'];
// ESM output still meets CommonJS inside dependencies that call require() on node builtins.
const BANNER = [
  '#!/usr/bin/env node',
  "import { createRequire as __vrfHostCreateRequire } from 'node:module';",
  'const require = __vrfHostCreateRequire(import.meta.url);',
].join('\n');

/**
 * The hook names the charm must ship: the standard ones plus 5 per relation endpoint.
 * @param {{ requires?: object | null, provides?: object | null, peers?: object | null }} metadata
 */
export function expectedHooks(metadata) {
  const endpoints = /** @type {const} */ (['requires', 'provides', 'peers']).flatMap((k) =>
    Object.keys(metadata[k] ?? {}),
  );
  return [...STANDARD_HOOKS, ...endpoints.flatMap((ep) => RELATION_HOOK_KINDS.map((kind) => `${ep}-relation-${kind}`))];
}

/**
 * manifest.yaml as charmcraft writes it; `architectures`: what the packed charm runs on.
 * @param {readonly string[]} [architectures]
 */
export function manifest(architectures = ARCHITECTURES) {
  return YAML.stringify({
    analysis: {
      attributes: [
        { name: 'language', result: 'unknown' },
        { name: 'framework', result: 'unknown' },
      ],
    },
    bases: CHANNELS.map((channel) => ({ name: 'ubuntu', channel, architectures: [...architectures] })),
  });
}

/** The charm build id: a digest of everything that goes into the bundles, so a hook memo never outlives an upgrade. */
export async function buildId() {
  const h = createHash('sha256');
  /** @type {string[]} */
  const files = [];
  /** @param {string} dir */
  const walk = async (dir) => {
    for (const e of (await readdir(join(ROOT, dir), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) await walk(rel);
      else if (e.isFile()) files.push(rel);
    }
  };
  await walk('src');
  files.push('package-lock.json', 'dispatch', ...CHARM_FILES, 'scripts/build.mjs');
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue;
    h.update(`${f}\0`);
    h.update(await readFile(join(ROOT, f)));
  }
  return h.digest('hex').slice(0, 24);
}

/**
 * Lays the charm out in `dir` (what `npm run pack` zips and Juju runs): the launcher as CommonJS
 * (Node loads it faster; its syntax lowered to node10, so an old Node still reads it far enough
 * to say it is too old), the charm as CommonJS (compiled with a code cache by the launcher) and
 * the CLI as ESM.
 * @param {string} dir
 * @param {{ minify?: boolean, architectures?: readonly string[] }} [options]
 */
export async function buildCharm(dir, { minify = false, architectures = ARCHITECTURES } = {}) {
  const metadata = YAML.parse(await readFile(join(ROOT, 'metadata.yaml'), 'utf8'));
  const hooks = (await readdir(join(ROOT, 'hooks'))).sort();
  const missing = expectedHooks(metadata).filter((h) => !hooks.includes(h));
  if (missing.length > 0)
    throw new BuildError(`hooks/ lacks ${missing.join(', ')}: add them as symlinks to ../dispatch`);
  if (!existsSync(join(ROOT, 'src/main.ts'))) throw new BuildError('src/main.ts (the bundle entry) does not exist yet');
  if (!(await generatedIsCurrent()))
    throw new BuildError('src/charm/action-params.gen.ts is not what actions.yaml generates: run npm run gen:actions');

  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'hooks'), { recursive: true });
  await copyFile(join(ROOT, 'dispatch'), join(dir, 'dispatch'));
  await chmod(join(dir, 'dispatch'), 0o755);
  for (const f of CHARM_FILES) await copyFile(join(ROOT, f), join(dir, f));
  for (const h of hooks) await symlink('../dispatch', join(dir, 'hooks', h));
  await writeFile(join(dir, 'manifest.yaml'), manifest(architectures));

  const id = await buildId();
  const common = /** @satisfies {import('esbuild').BuildOptions} */ ({
    bundle: true,
    platform: 'node',
    external: ['esbuild'],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    minify,
    define: { __VRF_HOST_BUILD__: JSON.stringify(id) },
  });
  // The memo's sh (dispatch sources it): a record of another build never answers a hook.
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(
    join(dir, MEMO_SH),
    `# Written by scripts/build.mjs from src/charm/memo.sh.\nvrf_memo_build=${id}\n${await readFile(join(ROOT, 'src/charm/memo.sh'), 'utf8')}`,
  );
  const hasCli = existsSync(join(ROOT, 'src/cli.ts'));
  const [launcher, bundle] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: [join(ROOT, 'src/launch.ts')],
      outfile: join(dir, LAUNCHER),
      format: 'cjs',
      target: 'node10',
    }),
    // CommonJS, so that the launcher can compile it with a V8 code cache (vm.Script).
    esbuild.build({
      ...common,
      entryPoints: [join(ROOT, 'src/main.ts')],
      outfile: join(dir, ENTRY),
      format: 'cjs',
      target: 'node18',
    }),
    // The charm ships the CLI too: converge copies it for the boot unit and the networkd hook.
    ...(hasCli
      ? [
          esbuild.build({
            ...common,
            entryPoints: [join(ROOT, 'src/cli.ts')],
            outfile: join(dir, 'dist/vrf-host-cli.mjs'),
            format: 'esm',
            target: 'node18',
            banner: { js: BANNER },
          }),
        ]
      : []),
  ]);
  // The launcher must stay small: it is all an update-status loads when the memo hits.
  const used = Object.values(launcher.metafile.outputs).flatMap((o) =>
    Object.entries(o.inputs)
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([f]) => f),
  );
  const heavy = used.filter((f) => /node_modules\/(execa|yaml|zod)\//.test(f));
  if (heavy.length > 0)
    throw new BuildError(
      `dist/launch.cjs pulls in ${heavy.slice(0, 3).join(', ')}: the launcher must not load execa, yaml or zod (zod/mini alone was a fifth of node -e 0 per hit)`,
    );
  return { dir, hooks, cli: hasCli, id, metafile: bundle.metafile };
}

/**
 * Node programs that are not the charm (the simulator, the CLI, the benchmarks): ESM bundles with a
 * shebang, `out` relative to `outdir`. The harness imports esbuild only when it runs from source.
 * @param {{ in: string, out: string }[]} entryPoints
 * @param {string} outdir
 */
export function bundleTools(entryPoints, outdir) {
  return esbuild.build({
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    external: ['esbuild'],
    banner: { js: BANNER },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
}

export async function build({ quiet = false, architectures = ARCHITECTURES } = {}) {
  const started = performance.now();
  const charm = await buildCharm(CHARM, { architectures });
  const result = await bundleTools(
    [
      { in: join(ROOT, 'src/ops/testing/simulator/hook-tool.ts'), out: 'simulator/hook-tool' },
      { in: join(ROOT, 'src/ops/testing/simulator/harness.ts'), out: 'simulator/harness' },
      ...(charm.cli ? [{ in: join(ROOT, 'src/cli.ts'), out: 'cli/vrf-host' }] : []),
    ],
    BUILD,
  );
  const outputs = ['simulator/hook-tool.mjs', ...(charm.cli ? ['cli/vrf-host.mjs'] : [])];
  for (const o of outputs) await chmod(join(BUILD, o), 0o755);
  const size = (await stat(join(CHARM, ENTRY))).size;
  const lsize = (await stat(join(CHARM, LAUNCHER))).size;
  if (!quiet) {
    const ms = Math.round(performance.now() - started);
    const extras = Object.keys(result.metafile.outputs).map((o) => relative(BUILD, join(ROOT, o)));
    console.log(
      `built ${relative(ROOT, CHARM)}/ (${LAUNCHER} ${(lsize / 1024).toFixed(0)} KiB, ${ENTRY} ${(size / 1024).toFixed(0)} KiB,` +
        ` ${charm.hooks.length} hooks, build ${charm.id}) and ${extras.join(', ')} in ${ms}` +
        ` ms${charm.cli ? '' : ' (no src/cli.ts yet: CLI skipped)'}`,
    );
  }
  return { charmDir: CHARM, hooks: charm.hooks, cli: charm.cli };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build().catch((err) => {
    console.error(`build failed: ${err instanceof BuildError ? err.message : (err?.stack ?? err)}`);
    process.exitCode = 1;
  });
}
