import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_PATHS, BootError, installBoot, removeBoot, renderHook, renderUnit } from '../../../src/vrf/boot.js';
import { under } from '../../../src/vrf/persist.js';

async function setup() {
  const root = await mkdtemp(join(tmpdir(), 'vrf-boot-'));
  const cliSource = join(root, 'src-cli.mjs');
  await writeFile(cliSource, 'console.log("vrf-host cli")\n');
  return { root, cliSource };
}

describe('boot unit and networkd hook', () => {
  it('the unit is a oneshot ordered after networkd, before network-online.target, running apply --from-state', () => {
    const u = renderUnit('/usr/bin/node');
    expect(u).toMatch(/^Type=oneshot$/m);
    expect(u).toMatch(/^After=.*systemd-networkd\.service/m);
    expect(u).toMatch(/^Before=network-online\.target$/m);
    expect(u).toMatch(/^ExecStart=\/usr\/bin\/node \/var\/lib\/vrf-host\/bin\/vrf-host\.mjs apply --from-state$/m);
    expect(u).toMatch(/^WantedBy=multi-user\.target network-online\.target$/m);
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  (analyze ? it : it.skip)('systemd-analyze verify accepts the unit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vrf-unit-'));
    const p = join(dir, 'vrf-host.service');
    await writeFile(p, renderUnit(process.execPath));
    const r = await execa(analyze!, ['verify', p], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('refuses a node path that would need quoting', () => {
    expect(() => renderUnit('/usr/bin/node; rm -rf /')).toThrow(BootError);
    expect(() => renderHook('node')).toThrow(BootError);
    expect(() => renderHook('/a/../b')).toThrow(BootError);
  });

  it('the hook is a POSIX sh script that sh -n accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vrf-hook-'));
    const p = join(dir, 'hook');
    await writeFile(p, renderHook('/usr/bin/node'));
    const r = await execa('sh', ['-n', p], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(renderHook('/usr/bin/node')).toMatch(
      /^exec \/usr\/bin\/node \/var\/lib\/vrf-host\/bin\/vrf-host\.mjs apply --from-state --quiet$/m,
    );
    expect(renderHook('/usr/bin/node')).not.toContain('$IFACE');
  });

  it('the hook does nothing (exit 0) when there is no state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vrf-hook-'));
    const p = join(dir, 'hook');
    // Point the state check at a path that cannot exist in this sandbox.
    await writeFile(
      p,
      renderHook('/usr/bin/node').replace('/var/lib/vrf-host/state.json', join(dir, 'nope/state.json')),
    );
    const r = await execa('sh', [p], { reject: false });
    expect(r.exitCode).toBe(0);
  });

  it('install writes the CLI copy, the unit, the wants symlinks and executable hooks; remove takes all of it away', async () => {
    const { root, cliSource } = await setup();
    await installBoot({ root, nodeBin: '/usr/bin/node', cliSource });
    expect(await readFile(under(root, BOOT_PATHS.cli), 'utf8')).toBe('console.log("vrf-host cli")\n');
    expect(await readFile(under(root, BOOT_PATHS.unit), 'utf8')).toBe(renderUnit('/usr/bin/node'));
    for (const w of BOOT_PATHS.wants) {
      expect((await lstat(under(root, w))).isSymbolicLink()).toBe(true);
      expect(await readlink(under(root, w))).toBe('/etc/systemd/system/vrf-host.service');
    }
    for (const h of BOOT_PATHS.hooks) {
      expect((await stat(under(root, h))).mode & 0o777).toBe(0o755);
      expect(await readFile(under(root, h), 'utf8')).toBe(renderHook('/usr/bin/node'));
    }
    // Idempotent, and never anything under /etc/netplan.
    await installBoot({ root, nodeBin: '/usr/bin/node', cliSource });
    await expect(readdir(under(root, 'etc/netplan'))).rejects.toThrow(/ENOENT/);

    await removeBoot({ root });
    for (const p of [BOOT_PATHS.unit, BOOT_PATHS.cli, ...BOOT_PATHS.wants, ...BOOT_PATHS.hooks]) {
      await expect(lstat(under(root, p))).rejects.toThrow(/ENOENT/);
    }
    await removeBoot({ root }); // missing files are fine
  });

  it('the hook fails loudly (stderr, exit 1) when the state exists but node or the CLI copy is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vrf-hook-'));
    const state = join(dir, 'state.json');
    await writeFile(state, '{}');
    const p = join(dir, 'hook');
    await writeFile(p, renderHook(join(dir, 'gone/node')).replace('/var/lib/vrf-host/state.json', state));
    const r = await execa('sh', [p], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      `vrf-host: ${join(dir, 'gone/node')} is missing: cannot re-apply the VRFs (run juju's config-changed on a vrf-host unit)`,
    );
  });

  it('copyNode: the unit and the hook run a copy of node under /var/lib/vrf-host/bin, made again only when its source changes', async () => {
    const { root, cliSource } = await setup();
    const charm = join(root, 'agents/unit-vrf-host-0/charm');
    await mkdir(join(charm, 'bin'), { recursive: true });
    const node = join(charm, 'bin/node');
    await writeFile(node, 'node v1');
    await installBoot({ root, nodeBin: node, cliSource, copyNode: true });
    expect(await readFile(under(root, BOOT_PATHS.unit), 'utf8')).toBe(renderUnit('/var/lib/vrf-host/bin/node'));
    for (const h of BOOT_PATHS.hooks)
      expect(await readFile(under(root, h), 'utf8')).toBe(renderHook('/var/lib/vrf-host/bin/node'));
    expect(await readFile(under(root, BOOT_PATHS.node), 'utf8')).toBe('node v1');
    expect((await stat(under(root, BOOT_PATHS.node))).mode & 0o777).toBe(0o755);
    const first = await stat(under(root, BOOT_PATHS.node));
    // The same source: not copied again (the same inode stays).
    await installBoot({ root, nodeBin: node, cliSource, copyNode: true });
    expect((await stat(under(root, BOOT_PATHS.node))).ino).toBe(first.ino);
    // An upgraded charm (a new file of another size): copied again.
    await rm(node);
    await writeFile(node, 'node v2, larger');
    await installBoot({ root, nodeBin: node, cliSource, copyNode: true });
    expect(await readFile(under(root, BOOT_PATHS.node), 'utf8')).toBe('node v2, larger');
    // The unit leaves: its charm directory goes, the copy stays until removeBoot.
    await rm(charm, { recursive: true });
    expect(existsSync(under(root, BOOT_PATHS.node))).toBe(true);
    await removeBoot({ root });
    expect(existsSync(under(root, 'var/lib/vrf-host/bin'))).toBe(false);
  });

  it('install fails clearly when the CLI bundle is missing', async () => {
    const { root } = await setup();
    await expect(installBoot({ root, nodeBin: '/usr/bin/node', cliSource: join(root, 'missing.mjs') })).rejects.toThrow(
      /cannot read the CLI bundle/,
    );
  });
});
