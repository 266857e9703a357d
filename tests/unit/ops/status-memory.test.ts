/**
 * A hook sets the unit's status only when it changed (src/ops/status-memory.ts): each status-set
 * is a round trip to the controller, and Juju keeps the last one. Around install, start, stop and
 * remove Juju sets the status itself, so there every status-set runs.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharmBase, dispatch, Status, type Framework } from '../../../src/ops/index.js';
import { charmSpecFrom } from '../../../src/ops/charmspec.js';
import { FakeJuju } from '../../../src/ops/testing/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ops-status-memory-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const spec = charmSpecFrom({
  name: 'demo',
  subordinate: true,
  requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
});

/** A charm whose every hook ends with `status()`, after an optional interim one. */
function charm(status: () => Status, interim?: Status) {
  return class extends CharmBase {
    constructor(framework: Framework) {
      super(framework);
      for (const hook of ['update-status', 'config-changed', 'install', 'start', 'stop', 'remove'] as const)
        framework.observe(hook, async () => {
          if (interim) await this.model.unit.setStatus(interim);
        });
      framework.observe('collect-status', (e) => e.addStatus(status()));
    }
  };
}

async function hook(name: string, status: Status, opts: { interim?: Status; failStatusSet?: boolean } = {}) {
  const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
  const run = opts.failStatusSet
    ? (argv: readonly string[], stdin?: string) =>
        argv[0] === 'status-set'
          ? Promise.resolve({ exitCode: 1, stdout: '', stderr: 'ERROR connection is shut down' })
          : fake.run(argv, stdin)
    : fake.run;
  const code = await dispatch(
    charm(() => status, opts.interim),
    {
      env: { JUJU_UNIT_NAME: 'demo/0', JUJU_DISPATCH_PATH: `hooks/${name}`, JUJU_CHARM_DIR: '/nonexistent' },
      run,
      spec,
      statusMemory: join(dir, 'memory', 'demo-0.status.json'),
    },
  );
  return { code, sets: fake.trace.calls.filter((c) => c[0] === 'status-set') };
}

const memory = () => join(dir, 'memory', 'demo-0.status.json');

describe('status-set only when the status changed', () => {
  test('the first hook sets it and keeps it; the same status again is not set; a different one is', async () => {
    expect((await hook('update-status', Status.active('2 VRFs'))).sets).toEqual([
      ['status-set', '--application=false', 'active', '--', '2 VRFs'],
    ]);
    expect(JSON.parse(await readFile(memory(), 'utf8'))).toEqual({
      argv: ['status-set', '--application=false', 'active', '--', '2 VRFs'],
    });
    expect((await hook('update-status', Status.active('2 VRFs'))).sets).toEqual([]);
    expect((await hook('config-changed', Status.active('2 VRFs'))).sets).toEqual([]);
    expect((await hook('update-status', Status.blocked('drift: 1 change pending'))).sets).toEqual([
      ['status-set', '--application=false', 'blocked', '--', 'drift: 1 change pending'],
    ]);
    expect((await hook('update-status', Status.active('2 VRFs'))).sets).toHaveLength(1);
  });

  test('an interim status counts as the last one set: the final one after it is set again', async () => {
    await hook('config-changed', Status.active('2 VRFs'));
    expect(
      (await hook('config-changed', Status.active('2 VRFs'), { interim: Status.maintenance('applying 2 changes') }))
        .sets,
    ).toEqual([
      ['status-set', '--application=false', 'maintenance', '--', 'applying 2 changes'],
      ['status-set', '--application=false', 'active', '--', '2 VRFs'],
    ]);
  });

  test.each(['install', 'start', 'stop', 'remove'])(
    '%s (Juju sets the status itself around it): every status-set runs',
    async (name) => {
      await hook('update-status', Status.active('2 VRFs'));
      expect((await hook(name, Status.active('2 VRFs'))).sets).toHaveLength(1);
    },
  );

  test('after stop and remove (Juju sets its own status) the memory is forgotten', async () => {
    await hook('stop', Status.active('2 VRFs'));
    expect(existsSync(memory())).toBe(false);
    await hook('update-status', Status.active('2 VRFs'));
    await hook('remove', Status.maintenance('leaving'));
    expect(existsSync(memory())).toBe(false);
  });

  test('a status-set that failed is not remembered (the next hook sets it again); an unreadable memory forgets', async () => {
    await hook('update-status', Status.active('old'));
    const failed = await hook('update-status', Status.active('2 VRFs'), { failStatusSet: true });
    expect(failed.code).toBe(1);
    expect((await hook('update-status', Status.active('2 VRFs'))).sets).toHaveLength(1);
    await writeFile(memory(), '{"argv":');
    expect((await hook('update-status', Status.active('2 VRFs'))).sets).toHaveLength(1);
  });

  test('while a status-set runs nothing is remembered: a hook killed right after it leaves no stale memory', async () => {
    await hook('update-status', Status.active('A'));
    // B is set, and the hook dies (kill -9) before it can remember B: here, status-set "answers" and
    // the memory is looked at from inside the call, which is all a killed hook would leave behind.
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    let seenDuringCall: boolean | undefined;
    await dispatch(
      charm(() => Status.active('B')),
      {
        env: { JUJU_UNIT_NAME: 'demo/0', JUJU_DISPATCH_PATH: 'hooks/update-status', JUJU_CHARM_DIR: '/nonexistent' },
        run: (argv, stdin) => {
          if (argv[0] === 'status-set') seenDuringCall = existsSync(memory());
          return fake.run(argv, stdin);
        },
        spec,
        statusMemory: memory(),
      },
    );
    expect(seenDuringCall).toBe(false);
    // So the next hook that wants A back sets it (a memory still saying A would have skipped it).
    expect((await hook('update-status', Status.active('A'))).sets).toHaveLength(1);
  });

  test('without a memory path every status-set runs', async () => {
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    for (let i = 0; i < 2; i++)
      await dispatch(
        charm(() => Status.active('x')),
        {
          env: { JUJU_UNIT_NAME: 'demo/0', JUJU_DISPATCH_PATH: 'hooks/update-status', JUJU_CHARM_DIR: '/nonexistent' },
          run: fake.run,
          spec,
        },
      );
    expect(fake.trace.calls.filter((c) => c[0] === 'status-set')).toHaveLength(2);
  });
});
