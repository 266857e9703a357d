#!/usr/bin/env node
// npm run lint: eslint (type-aware), prettier --check, tsc over the TypeScript and tsc over the
// JavaScript (tsconfig.scripts.json). eslint runs beside the other three (two cores: about the time
// of the longer of the two chains instead of their sum); every check runs whatever another says.
// Only caches that cannot hide a finding are used: tsc's incremental build info (tsc itself
// re-checks whatever a change can affect) and prettier's cache of formatted file contents, both
// under .cache/lint/. eslint runs uncached: its cache keys a file by its own content, and a
// type-aware rule's finding can change with another file's types.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = path.join(ROOT, '.cache', 'lint');
const BIN = path.join(ROOT, 'node_modules', '.bin');

/** @typedef {{ name: string, argv: [string, ...string[]] }} Check */

/** @type {Check[][]} chains that run side by side; the checks of a chain one after another */
const CHAINS = [
  [{ name: 'eslint', argv: [path.join(BIN, 'eslint'), '.'] }],
  [
    {
      name: 'prettier --check',
      argv: [
        path.join(BIN, 'prettier'),
        '--check',
        '--log-level',
        'warn',
        '--cache',
        '--cache-strategy',
        'content',
        '--cache-location',
        path.join(CACHE, 'prettier'),
        '**/*.{ts,mjs,js,cjs}',
      ],
    },
    ...['tsconfig.json', 'tsconfig.scripts.json'].map(
      /** @returns {Check} */ (project) => ({
        name: `tsc -p ${project}`,
        argv: [
          path.join(BIN, 'tsc'),
          '-p',
          project,
          '--noEmit',
          '--incremental',
          '--tsBuildInfoFile',
          path.join(CACHE, `${project}.tsbuildinfo`),
        ],
      }),
    ),
  ],
];

/**
 * Run one check; its output is printed in one piece when it ends (the chains run at once).
 * @param {Check} check
 * @returns {Promise<boolean>}
 */
function runCheck({ name, argv: [cmd, ...args] }) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => {
      process.stdout.write(`✘ ${name}: ${e.message}\n`);
      resolve(false);
    });
    child.on('close', (code) => {
      const s = ((Date.now() - t0) / 1000).toFixed(1);
      process.stdout.write(`${code === 0 ? '✔' : '✘'} ${name} (${s} s)\n${out.trimEnd() ? `${out.trimEnd()}\n` : ''}`);
      resolve(code === 0);
    });
  });
}

/**
 * @param {readonly Check[]} chain
 * @returns {Promise<boolean[]>}
 */
async function runChain(chain) {
  /** @type {boolean[]} */
  const results = [];
  for (const check of chain) results.push(await runCheck(check));
  return results;
}

mkdirSync(CACHE, { recursive: true });
const ok = (await Promise.all(CHAINS.map(runChain))).flat().every(Boolean);
if (!ok) process.stdout.write('lint: failed\n');
process.exitCode = ok ? 0 : 1;
