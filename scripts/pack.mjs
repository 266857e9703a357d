#!/usr/bin/env node
// npm run pack [-- --bundle-node]: build, then zip build/charm into ./vrf-host.charm, the
// archive `juju deploy ./vrf-host.charm` takes. Zipped with yazl so that every entry
// carries its unix mode (dispatch and hooks/* 0755) in the external attributes, which
// the Juju agent applies when it unpacks the charm. Symlinks (hooks/NAME -> ../dispatch)
// are stored as copies of their target, as charmcraft does.
// --bundle-node also puts the Node binary running this script at bin/node, so the charm
// does not need Node on the machine.
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { build, CHARM, ROOT } from './build.mjs';

export const CHARM_FILE = join(ROOT, 'vrf-host.charm');
// Fixed timestamps: the same tree packs to the same bytes.
const MTIME = new Date('2020-01-01T00:00:00Z');

async function walk(dir, base = dir) {
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

/**
 * bin/node must run on the charm's bases (ubuntu 22.04/24.04 amd64) with nothing else
 * installed: an x64, self-contained build (nodejs.org, nodesource, the node snap's), not
 * a distribution's small binary linked against libnode.
 */
async function checkBundlableNode() {
  if (process.arch !== 'x64') {
    throw new PackError(
      `--bundle-node: this node is ${process.arch}, the charm's bases are amd64; run the pack with an x64 node`,
    );
  }
  const { size } = await stat(process.execPath);
  if (size < 20 * 1024 * 1024) {
    throw new PackError(
      `--bundle-node: ${process.execPath} (${(size / 1024 / 1024).toFixed(1)} MiB) looks like a distribution build linked against libnode; run the pack with a standalone node (nodejs.org or nodesource build)`,
    );
  }
}

export class PackError extends Error {
  name = 'PackError';
  constructor(message, options) {
    super(message, options);
  }
}

export async function pack({ bundleNode = false, quiet = false } = {}) {
  if (bundleNode) await checkBundlableNode();
  await build({ quiet });
  if (bundleNode) {
    await mkdir(join(CHARM, 'bin'), { recursive: true });
    await copyFile(process.execPath, join(CHARM, 'bin/node'));
    await chmod(join(CHARM, 'bin/node'), 0o755);
  }
  const entries = await walk(CHARM);
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.dir) zip.addEmptyDirectory(e.name, { mtime: MTIME, mode: 0o40000 | e.mode });
    else zip.addFile(e.path, e.name, { mtime: MTIME, mode: 0o100000 | e.mode });
  }
  zip.end();
  const tmp = `${CHARM_FILE}.tmp`;
  await new Promise((resolve, reject) => {
    const out = createWriteStream(tmp);
    zip.outputStream.on('error', reject);
    out.on('error', reject).on('close', resolve);
    zip.outputStream.pipe(out);
  });
  await rename(tmp, CHARM_FILE);
  const size = (await stat(CHARM_FILE)).size;
  if (!quiet) {
    const files = entries.filter((e) => !e.dir).length;
    console.log(
      `packed ${relative(ROOT, CHARM_FILE)} (${files} files, ${(size / 1024).toFixed(0)} KiB${bundleNode ? `, with bin/node ${process.version}` : ", uses the machine's node >= 18"})`,
    );
  }
  return { file: CHARM_FILE, entries: entries.map((e) => e.name) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--bundle-node');
  if (unknown.length > 0) {
    console.error(`pack: unknown argument(s) ${unknown.join(' ')}; usage: npm run pack [-- --bundle-node]`);
    process.exitCode = 2;
  } else {
    pack({ bundleNode: args.includes('--bundle-node') }).catch(async (err) => {
      await rm(`${CHARM_FILE}.tmp`, { force: true });
      console.error(
        `pack failed: ${err?.name === 'BuildError' || err?.name === 'PackError' ? err.message : (err?.stack ?? err)}`,
      );
      process.exitCode = 1;
    });
  }
}
