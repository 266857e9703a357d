/**
 * The update-status memo's watch list names installBoot's copy of node (the source it stats, the
 * copy and the stamp it compares) only when the boot path copies node: kernel scenario 12's strace
 * saw a full no-op update-status read them while the list did not name them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_PATHS } from '../../../src/vrf/boot.js';
import { watchedPaths } from '../../../src/vrf/engine.js';
import { under } from '../../../src/vrf/persist.js';

describe("the memo's watch list and the boot path's copy of node", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'vrf-host-watch-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const boot = { nodeBin: '/charm/bin/node', cliSource: '/charm/dist/vrf-host-cli.mjs' };
  const paths = async (copyNode: boolean) =>
    (await watchedPaths({ root, procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') }, { ...boot, copyNode }))
      .filter((w) => w.how === 'stat')
      .map((w) => w.path);

  it('names the node it copies, the copy and the stamp when it copies node', async () => {
    const p = await paths(true);
    expect(p).toEqual(
      expect.arrayContaining([
        '/charm/bin/node',
        under(root, BOOT_PATHS.node),
        under(root, BOOT_PATHS.nodeSource),
        '/charm/dist/vrf-host-cli.mjs',
      ]),
    );
  });

  it('names none of them when the boot path runs node where it is', async () => {
    const p = await paths(false);
    expect(p).not.toContain('/charm/bin/node');
    expect(p).not.toContain(under(root, BOOT_PATHS.node));
    expect(p).not.toContain(under(root, BOOT_PATHS.nodeSource));
    expect(p).toContain('/charm/dist/vrf-host-cli.mjs');
  });
});
