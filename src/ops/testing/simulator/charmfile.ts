/**
 * Read a .charm (a zip) with yauzl: entry names, unix modes and contents, and unpack it
 * honouring the modes, as the Juju agent does. Lets tests (and the real-kernel suite, via
 * build/simulator/harness.mjs) run the PACKED charm rather than build/charm.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import yauzl from 'yauzl';

export interface ZipEntryInfo {
  readonly name: string;
  /** Unix mode from the external attributes (type and permission bits). */
  readonly mode: number;
  /** The host system that made the entry (3 = unix). */
  readonly madeBy: number;
  readonly data: Buffer;
}

export function readZip(path: string): Promise<ZipEntryInfo[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out: ZipEntryInfo[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(out));
      zip.on('entry', (entry: yauzl.Entry) => {
        const base = {
          name: entry.fileName,
          mode: (entry.externalFileAttributes >>> 16) & 0xffff,
          madeBy: entry.versionMadeBy >> 8,
        };
        if (entry.fileName.endsWith('/')) {
          out.push({ ...base, data: Buffer.alloc(0) });
          zip.readEntry();
          return;
        }
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            out.push({ ...base, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Unpack as the Juju agent does: files with their permission bits. */
export async function extractZip(entries: readonly ZipEntryInfo[], dest: string): Promise<void> {
  for (const e of entries) {
    const target = join(dest, e.name);
    if (e.name.endsWith('/')) {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, e.data);
    await chmod(target, e.mode & 0o777);
  }
}

/** Unpack `charmFile` into `dest` (created), returning its entries. */
export async function unpackCharm(charmFile: string, dest: string): Promise<ZipEntryInfo[]> {
  const entries = await readZip(charmFile);
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..'))
      throw new Error(`unsafe entry ${JSON.stringify(e.name)} in ${charmFile}`);
  }
  await mkdir(dest, { recursive: true });
  await extractZip(entries, dest);
  return entries;
}
