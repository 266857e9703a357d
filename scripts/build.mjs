#!/usr/bin/env node
// npm run build: lay out the charm in build/charm/ and bundle the TypeScript with ONE
// esbuild call. Layout (what `npm run pack` zips and Juju runs):
//   build/charm/dispatch              POSIX sh; runs dist/vrf-host.mjs with Node
//   build/charm/hooks/NAME            symlinks to ../dispatch (the names in ./hooks)
//   build/charm/{metadata,config,actions}.yaml
//   build/charm/manifest.yaml         bases ubuntu 22.04 and 24.04, amd64 (as charmcraft writes it)
//   build/charm/dist/vrf-host.mjs     src/main.ts, bundled: no node_modules at run time
//   build/charm/dist/vrf-host-cli.mjs src/cli.ts, bundled: the boot unit's copy comes from here
// Also: build/cli/vrf-host.mjs (src/cli.ts, when it exists) and
// build/simulator/{hook-tool,harness}.mjs (the out-of-process hook-tool simulator).
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import YAML from 'yaml';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD = join(ROOT, 'build');
export const CHARM = join(BUILD, 'charm');
export const ENTRY = 'dist/vrf-host.mjs';
export const BASES = [
  { name: 'ubuntu', channel: '22.04', architectures: ['amd64'] },
  { name: 'ubuntu', channel: '24.04', architectures: ['amd64'] },
];
/** Hooks every machine charm gets, besides its relation hooks. */
export const STANDARD_HOOKS = ['install', 'config-changed', 'start', 'stop', 'remove', 'update-status', 'upgrade-charm', 'leader-elected'];
export const RELATION_HOOK_KINDS = ['created', 'joined', 'changed', 'departed', 'broken'];

export class BuildError extends Error {
  name = 'BuildError';
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

/** The hook names the charm must ship: the standard ones plus 5 per relation endpoint. */
export function expectedHooks(metadata) {
  const endpoints = ['requires', 'provides', 'peers'].flatMap((k) => Object.keys(metadata[k] ?? {}));
  return [...STANDARD_HOOKS, ...endpoints.flatMap((ep) => RELATION_HOOK_KINDS.map((kind) => `${ep}-relation-${kind}`))];
}

export function manifest() {
  return YAML.stringify({
    analysis: { attributes: [{ name: 'language', result: 'unknown' }, { name: 'framework', result: 'unknown' }] },
    bases: BASES,
  });
}

export async function build({ quiet = false } = {}) {
  const started = performance.now();
  const metadata = YAML.parse(await readFile(join(ROOT, 'metadata.yaml'), 'utf8'));
  const hooks = (await readdir(join(ROOT, 'hooks'))).sort();
  const missing = expectedHooks(metadata).filter((h) => !hooks.includes(h));
  if (missing.length > 0) throw new BuildError(`hooks/ lacks ${missing.join(', ')}: add them as symlinks to ../dispatch`);
  if (!existsSync(join(ROOT, 'src/main.ts'))) throw new BuildError('src/main.ts (the bundle entry) does not exist yet');

  await rm(CHARM, { recursive: true, force: true });
  await mkdir(join(CHARM, 'hooks'), { recursive: true });
  await copyFile(join(ROOT, 'dispatch'), join(CHARM, 'dispatch'));
  await chmod(join(CHARM, 'dispatch'), 0o755);
  for (const f of CHARM_FILES) await copyFile(join(ROOT, f), join(CHARM, f));
  for (const h of hooks) await symlink('../dispatch', join(CHARM, 'hooks', h));
  await writeFile(join(CHARM, 'manifest.yaml'), manifest());

  const entryPoints = [
    { in: join(ROOT, 'src/main.ts'), out: 'charm/dist/vrf-host' },
    { in: join(ROOT, 'src/ops/testing/simulator/hook-tool.ts'), out: 'simulator/hook-tool' },
    { in: join(ROOT, 'src/ops/testing/simulator/harness.ts'), out: 'simulator/harness' },
  ];
  const hasCli = existsSync(join(ROOT, 'src/cli.ts'));
  // The charm ships the CLI too: converge copies it for the boot unit and the networkd hook.
  if (hasCli) entryPoints.push({ in: join(ROOT, 'src/cli.ts'), out: 'cli/vrf-host' }, { in: join(ROOT, 'src/cli.ts'), out: 'charm/dist/vrf-host-cli' });
  const result = await esbuild.build({
    entryPoints,
    outdir: BUILD,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    // The harness imports esbuild only when it runs from source; never in the bundle.
    external: ['esbuild'],
    banner: { js: BANNER },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const outputs = ['simulator/hook-tool.mjs', ...(hasCli ? ['cli/vrf-host.mjs'] : [])];
  for (const o of outputs) await chmod(join(BUILD, o), 0o755);
  const size = (await stat(join(CHARM, ENTRY))).size;
  if (!quiet) {
    const ms = Math.round(performance.now() - started);
    const extras = Object.keys(result.metafile.outputs).map((o) => relative(BUILD, join(ROOT, o))).filter((o) => !o.startsWith('charm/'));
    console.log(`built ${relative(ROOT, CHARM)}/ (${ENTRY} ${(size / 1024).toFixed(0)} KiB, ${hooks.length} hooks) and ${extras.join(', ')} in ${ms} ms${hasCli ? '' : ' (no src/cli.ts yet: CLI skipped)'}`);
  }
  return { charmDir: CHARM, hooks, cli: hasCli };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build().catch((err) => {
    console.error(`build failed: ${err instanceof BuildError ? err.message : err?.stack ?? err}`);
    process.exitCode = 1;
  });
}
