import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { main } from '../../../src/ops/index.js';
import { loadCharmSpec } from '../../../src/ops/charmspec.js';
import { FakeJuju } from '../../../src/ops/testing/index.js';
import { Context } from '../../../src/ops/testing/index.js';
import { z } from 'zod';
import { CharmBase, Status, type Framework } from '../../../src/ops/index.js';

/**
 * The placeholder charm these framework tests were written against (src/charm.ts is the
 * real charm now, which acts on the host; its tests are tests/unit/charm).
 */
class VrfHostCharm extends CharmBase {
  private lastEvent = '';
  constructor(framework: Framework) {
    super(framework);
    for (const name of ['install', 'config-changed', 'start', 'update-status', 'stop', 'remove'] as const) {
      framework.observe(name, async (event) => {
        this.lastEvent = event.name;
        await this.log.info(`vrf-host placeholder handled ${event.name}`);
      });
    }
    framework.observe('collect-status', (event) => {
      event.addStatus(Status.active(this.lastEvent ? `placeholder (last: ${this.lastEvent})` : 'placeholder'));
    });
    framework.observeAction('show-vrfs', z.object({ routes: z.boolean().default(false) }).strict(), async (event) => {
      await event.setResults({ vrfs: 'none', placeholder: true, routes: event.params.routes });
    });
  }
}

const root = process.cwd();
const read = (f: string): unknown => parse(readFileSync(join(root, f), 'utf8'));

describe('main() with injected env and runner', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ops-main-'));
    await writeFile(
      join(dir, 'metadata.yaml'),
      'name: demo\nrequires:\n  juju-info:\n    interface: juju-info\n    scope: container\n',
    );
    await writeFile(join(dir, 'actions.yaml'), 'show-vrfs:\n  params:\n    routes: {type: boolean, default: false}\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads metadata from JUJU_CHARM_DIR and dispatches; returns the exit code without touching process.exitCode', async () => {
    const spec = await loadCharmSpec(dir);
    expect(spec).toMatchObject({
      name: 'demo',
      actions: ['show-vrfs'],
      endpoints: { 'juju-info': { interface: 'juju-info', role: 'requires' } },
    });
    const fake = new FakeJuju({
      spec,
      unitName: 'demo/0',
      state: {},
      action: { name: 'show-vrfs', params: { routes: true } },
    });
    const before = process.exitCode;
    const code = await main(VrfHostCharm, {
      env: { JUJU_DISPATCH_PATH: 'actions/show-vrfs', JUJU_UNIT_NAME: 'demo/0', JUJU_CHARM_DIR: dir },
      run: fake.run,
      setExitCode: false,
    });
    expect(code).toBe(0);
    expect(process.exitCode).toBe(before);
    expect(fake.trace.actionResults).toEqual({ vrfs: 'none', placeholder: 'true', routes: 'true' });
  });

  test('missing metadata: clear line, exit 1', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ops-main-empty-'));
    const lines: string[] = [];
    const code = await main(VrfHostCharm, {
      env: { JUJU_DISPATCH_PATH: 'hooks/install', JUJU_UNIT_NAME: 'demo/0', JUJU_CHARM_DIR: empty },
      run: () => Promise.reject(Object.assign(new Error('spawn juju-log ENOENT'), { code: 'ENOENT' })),
      stderr: (l) => lines.push(l),
      setExitCode: false,
    });
    await rm(empty, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^cannot load charm metadata from ${empty}: Error: cannot read .*metadata.yaml <- caused by: Error: ENOENT`,
      ),
    );
  });

  test('invalid metadata is named', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'ops-main-bad-'));
    await writeFile(join(bad, 'metadata.yaml'), 'requires: {x: {scope: global}}\n');
    await expect(loadCharmSpec(bad)).rejects.toThrow(/invalid metadata.yaml: name: .*; requires.x.interface/);
    await rm(bad, { recursive: true, force: true });
  });
});

describe('the placeholder charm with the repository metadata', () => {
  const ctx = new Context(VrfHostCharm, {
    meta: read('metadata.yaml'),
    config: read('config.yaml'),
    actions: read('actions.yaml'),
  });

  test.each(['install', 'config-changed', 'start', 'update-status', 'stop', 'remove'])(
    '%s ends active',
    async (name) => {
      const out = await ctx.run(ctx.on.hook(name), {});
      expect(ctx.exitCode).toBe(0);
      expect(ctx.jujuLog).toContainEqual({ level: 'INFO', message: `vrf-host placeholder handled ${name}` });
      expect(out.unitStatus).toEqual({ name: 'active', message: `placeholder (last: ${name})` });
    },
  );

  test('show-vrfs sets a result; actions.yaml defaults apply', async () => {
    await ctx.run(ctx.on.action('show-vrfs'), {});
    expect(ctx.exitCode).toBe(0);
    expect(ctx.actionResults).toEqual({ vrfs: 'none', placeholder: 'true', routes: 'false' });
  });

  test('show-vrfs rejects an unknown param by name', async () => {
    await ctx.run(ctx.on.action('show-vrfs', { route: true }), {});
    expect(ctx.actionFailure).toBe('action show-vrfs: unknown parameter: "route"');
  });

  test('juju-info relation events are accepted', async () => {
    const rel = { endpoint: 'juju-info', id: 1, remoteApp: 'ubuntu', remoteUnitsData: { 'ubuntu/0': {} } };
    await ctx.run(ctx.on.relation('joined', rel, { remoteUnit: 'ubuntu/0' }), { relations: [rel] });
    expect(ctx.exitCode).toBe(0);
  });
});
