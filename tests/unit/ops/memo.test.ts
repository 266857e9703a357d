/**
 * The hook memo as ops runs it: every full dispatch deletes the record first; a run of a
 * memoizable hook that only read and set its own status writes the record the charm made, atomically.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unrecordableCall, writeMemo } from '../../../src/ops/memo.js';
import { dispatch, CharmBase, Status, type Framework, type RecordText } from '../../../src/ops/index.js';
import { charmSpecFrom } from '../../../src/ops/charmspec.js';
import { FakeJuju } from '../../../src/ops/testing/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ops-memo-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('unrecordableCall', () => {
  const call = (argv: string[], exitCode = 0) => ({ argv, exitCode, stdout: 'out', stderr: '' });
  test('reads, one status and the log are recordable', () => {
    expect(
      unrecordableCall([
        call(['juju-log', '--log-level', 'DEBUG', '--', 'x']),
        call(['config-get', '--all', '--format=json']),
        call(['network-get', 'public', '--format=json']),
        call(['status-set', '--application=false', 'active', '--', 'ok']),
      ]),
    ).toBeNull();
  });
  test('a run that wrote anything else, set more than one status, or whose status-set failed, is not recordable', () => {
    expect(
      unrecordableCall([call(['status-set', 'maintenance', 'applying']), call(['status-set', 'active', 'x'])]),
    ).toBe('more than one status-set');
    expect(unrecordableCall([call(['state-set', '--file', '-'])])).toContain('state-set');
    expect(unrecordableCall([call(['action-set', 'a=b'])])).toContain('action-set');
    expect(unrecordableCall([call(['status-set', 'active', 'x'], 1)])).toBe('status-set failed');
  });
});

describe('writeMemo', () => {
  test('atomically (no temporary file left), readable by root only', async () => {
    const path = join(dir, 'memo', 'demo-0.sh');
    writeMemo(path, 'one\n');
    writeMemo(path, 'two\n');
    expect(await readFile(path, 'utf8')).toBe('two\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'memo'))).toEqual(['demo-0.sh']);
  });
});

describe('dispatch with a memo', () => {
  const spec = charmSpecFrom({
    name: 'demo',
    subordinate: true,
    requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
  });
  const env = { JUJU_UNIT_NAME: 'demo/0', JUJU_DISPATCH_PATH: 'hooks/update-status', JUJU_CHARM_DIR: '/nonexistent' };

  function charm(opts: { allow: boolean; answer?: RecordText; seen?: { hook: string; env: unknown }[] }) {
    return class extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('update-status', async () => {
          await this.model.getConfig();
          if (opts.allow)
            framework.memo.allow({
              record: (r) => {
                opts.seen?.push(r);
                return Promise.resolve(opts.answer ?? { text: `record of ${r.hook}\n` });
              },
            });
        });
        framework.observe('collect-status', (e) => e.addStatus(Status.active('fine')));
      }
    };
  }

  test('a recordable update-status writes the record the charm made, given the hook and the environment', async () => {
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: { config: { strict: true } } });
    const path = join(dir, 'memo.sh');
    const seen: { hook: string; env: unknown }[] = [];
    const code = await dispatch(charm({ allow: true, seen }), {
      env,
      run: fake.run,
      spec,
      memo: { path, hooks: ['update-status'] },
    });
    expect(code).toBe(0);
    expect(await readFile(path, 'utf8')).toBe('record of update-status\n');
    expect(seen).toEqual([{ hook: 'update-status', env }]);
  });

  test('no record when the charm cannot make one: it says why at DEBUG', async () => {
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    const path = join(dir, 'memo.sh');
    await dispatch(charm({ allow: true, answer: { unrecordable: '/x is not text' } }), {
      env,
      run: fake.run,
      spec,
      memo: { path, hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
    expect(fake.trace.jujuLog).toContainEqual({ level: 'DEBUG', message: 'no hook memo: /x is not text' });
  });

  test('no record when the charm does not allow it, for another hook, or without a path; an old one is removed first', async () => {
    const path = join(dir, 'memo.sh');
    const fake = () => new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    await writeFile(path, 'stale');
    await writeFile(join(dir, 'memo.json'), 'an earlier charm kept its record so');
    await dispatch(charm({ allow: false }), {
      env,
      run: fake().run,
      spec,
      memo: { path, hooks: ['update-status'], obsolete: [join(dir, 'memo.json')] },
    });
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(dir, 'memo.json'))).toBe(false);
    await writeFile(path, 'stale');
    await dispatch(charm({ allow: true }), {
      env: { ...env, JUJU_DISPATCH_PATH: 'hooks/start' },
      run: fake().run,
      spec,
      memo: { path, hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
    await dispatch(charm({ allow: true }), {
      env,
      run: fake().run,
      spec,
      memo: { path: null, hooks: ['update-status'] },
    });
    expect(existsSync(path)).toBe(false);
  });

  test('the full run says why dispatch did not answer, in its DEBUG line', async () => {
    const fake = new FakeJuju({ spec, unitName: 'demo/0', state: {} });
    await dispatch(charm({ allow: false }), {
      env,
      run: fake.run,
      spec,
      memo: { path: join(dir, 'm.sh'), hooks: ['update-status'], missed: 'no record' },
    });
    expect(fake.trace.jujuLog).toContainEqual({
      level: 'DEBUG',
      message: 'emitting event update-status (in full: no record)',
    });
  });
});
