import { z } from 'zod';
import { CharmBase, HookToolFailedError, Status, type Framework, type Network } from '../../../src/ops/index.js';
import { Context, DEFAULT_NETWORK, type RelationState } from '../../../src/ops/testing/index.js';

const meta = {
  name: 'demo',
  subordinate: true,
  requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
  'extra-bindings': { storage: null, mgmt: null },
};
const config = {
  options: {
    mode: { type: 'string', default: 'auto' },
    mtu: { type: 'int', default: 1500 },
    strict: { type: 'boolean', default: true },
  },
};
const actions = {
  greet: { params: { name: { type: 'string' }, times: { type: 'integer', default: 1 } } },
  explode: {},
  results: {},
  unhandled: {},
};

const ConfigSchema = z.object({
  mode: z.enum(['auto', 'manual']),
  mtu: z.number().int().min(1280, 'must be at least 1280'),
  strict: z.boolean(),
});

/** Everything the test charm saw, per run. */
const seen: {
  events: string[];
  networks: Network[];
  collects: number;
  relationData?: Record<string, string>;
  units?: string[];
  departing?: string;
} = {
  events: [],
  networks: [],
  collects: 0,
};

class DemoCharm extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    framework.observe('install', async (e) => {
      seen.events.push(e.name);
      await this.model.unit.setWorkloadVersion('1.2.3');
    });
    framework.observe('config-changed', (e) => {
      seen.events.push(e.name);
    });
    framework.observe('start', async () => {
      seen.networks.push(await this.model.getBinding('storage'));
      seen.networks.push(await this.model.getBinding('storage'));
      seen.networks.push(await this.model.getBinding('mgmt'));
    });
    framework.observe('stop', async () => {
      await this.model.getBinding('nonexistent');
    });
    framework.observe('update-status', async () => {
      const n = Number((await this.model.stored.get('count')) ?? '0');
      this.model.stored.set('count', String(n + 1));
    });
    framework.observe('remove', () => {
      throw new Error('cleanup failed', { cause: new Error('device busy') });
    });
    framework.observe('juju-info-relation-joined', async (e) => {
      seen.events.push(`${e.name} ${e.relation.id} ${e.remoteUnit ?? '-'} ${e.remoteApp ?? '-'}`);
      seen.units = await e.relation.getUnits();
      if (e.remoteUnit !== undefined) seen.relationData = await e.relation.getData(e.remoteUnit);
    });
    framework.observe('juju-info-relation-departed', (e) => {
      if (e.departingUnit !== undefined) seen.departing = e.departingUnit;
    });
    framework.observe('leader-elected', async () => {
      const rels = await this.model.getRelations('juju-info');
      seen.events.push(`leader=${await this.model.unit.isLeader()} rels=${rels.map((r) => r.id).join(',')}`);
    });
    framework.observe('collect-status', async (e) => {
      seen.collects += 1;
      const cfg = await this.model.loadConfig(ConfigSchema);
      if (!cfg.ok) e.addStatus(Status.blocked(`bad config: ${cfg.message}`));
      e.addStatus(Status.active('ready'));
      e.addStatus(Status.waiting('for peers'));
    });
    framework.observeAction(
      'greet',
      z.object({ name: z.string().min(1), times: z.number().int().positive() }),
      async (e) => {
        await e.log(`greeting ${e.params.name}`);
        await e.setResults({
          greeting: `hello ${e.params.name}`.repeat(1),
          times: e.params.times,
          nested: { a: { b: 'c' } },
        });
      },
    );
    framework.observeAction('explode', z.object({}), () => {
      throw new HookToolFailedError('status-get', 1, 'ERROR boom');
    });
    framework.observeAction('results', z.object({}), async (e) => {
      await e.setResults({ stdout: 'nope' });
    });
  }
}

let ctx: Context;
beforeEach(() => {
  ctx = new Context(DemoCharm, { meta, config, actions });
  seen.events = [];
  seen.networks = [];
  seen.collects = 0;
  delete seen.relationData;
  delete seen.units;
  delete seen.departing;
});

const rel: RelationState = {
  endpoint: 'juju-info',
  id: 4,
  remoteApp: 'ubuntu',
  remoteUnitsData: { 'ubuntu/0': { 'private-address': '10.0.0.5' }, 'ubuntu/1': {} },
};

describe('hooks and collect-status', () => {
  test('install runs its handler, sets the workload version, and collect-status once with the highest priority', async () => {
    const out = await ctx.run(ctx.on.install(), {});
    expect(ctx.exitCode).toBe(0);
    expect(seen.events).toEqual(['install']);
    expect(seen.collects).toBe(1);
    expect(ctx.statusHistory).toEqual([Status.waiting('for peers')]);
    expect(out.unitStatus).toEqual(Status.waiting('for peers'));
    expect(out.workloadVersion).toBe('1.2.3');
    expect(ctx.workloadVersionHistory).toEqual(['1.2.3']);
  });

  test('bad config blocks naming the field, without failing the hook', async () => {
    const out = await ctx.run(ctx.on.configChanged(), { config: { mtu: 1000, mode: 'weird' } });
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus?.name).toBe('blocked');
    expect(out.unitStatus?.message).toMatch(/^bad config: mode: .*; mtu: must be at least 1280$/);
  });

  test('config defaults come from config.yaml and state overrides them', async () => {
    const out = await ctx.run(ctx.on.configChanged(), { config: { mode: 'manual' } });
    expect(out.unitStatus).toEqual(Status.waiting('for peers'));
  });

  test('a hook with no observer still runs collect-status', async () => {
    await ctx.run(ctx.on.upgradeCharm(), {});
    expect(ctx.exitCode).toBe(0);
    expect(seen.collects).toBe(1);
    expect(ctx.statusHistory).toHaveLength(1);
  });

  test('stored state persists through state-set', async () => {
    let state = await ctx.run(ctx.on.updateStatus(), {});
    state = await ctx.run(ctx.on.updateStatus(), state);
    expect(state.stored).toEqual({ count: '2' });
    expect(ctx.calls.filter((c) => c[0] === 'state-set')).toEqual([['state-set', '--file', '-']]);
  });
});

describe('bindings', () => {
  test('network-get → Network, cached per hook', async () => {
    const storage: Network = {
      interfaces: [
        {
          name: 'bond0.40',
          mac: '52:54:00:aa:bb:cc',
          addresses: [
            { address: '10.40.0.7', cidr: '10.40.0.0/24', hostname: '' },
            { address: '2001:db8:40::7', cidr: '2001:db8:40::/64', hostname: '' },
          ],
        },
      ],
      ingressAddresses: ['10.40.0.7'],
      egressSubnets: ['10.40.0.0/24'],
    };
    await ctx.run(ctx.on.start(), { networks: { storage } });
    expect(seen.networks).toEqual([storage, storage, DEFAULT_NETWORK]);
    expect(ctx.calls.filter((c) => c[0] === 'network-get')).toEqual([
      ['network-get', '--format=json', 'storage'],
      ['network-get', '--format=json', 'mgmt'],
    ]);
  });

  test('an unknown binding is an uncaught hook-tool failure: logged, exit 1', async () => {
    await ctx.run(ctx.on.stop(), {});
    expect(ctx.exitCode).toBe(1);
    const errors = ctx.jujuLog.filter((l) => l.level === 'ERROR');
    expect(errors).toEqual([
      {
        level: 'ERROR',
        message:
          'uncaught error in hook stop: HookToolFailedError: hook tool network-get exited with status 1: ERROR no' +
          ' network config found for binding "nonexistent"',
      },
    ]);
    expect(ctx.statusHistory).toEqual([]);
  });
});

describe('relations', () => {
  test('juju-info-relation-joined carries the relation, remote unit and app', async () => {
    await ctx.run(ctx.on.relation('joined', rel, { remoteUnit: 'ubuntu/0' }), { relations: [rel] });
    expect(ctx.exitCode).toBe(0);
    expect(seen.events).toEqual(['juju-info-relation-joined juju-info:4 ubuntu/0 ubuntu']);
    expect(seen.units).toEqual(['ubuntu/0', 'ubuntu/1']);
    expect(seen.relationData).toEqual({ 'private-address': '10.0.0.5' });
  });

  test.each(['created', 'changed', 'broken'] as const)('juju-info-relation-%s dispatches cleanly', async (kind) => {
    await ctx.run(ctx.on.relation(kind, rel), { relations: [rel] });
    expect(ctx.exitCode).toBe(0);
    expect(ctx.jujuLog[0]).toEqual({ level: 'DEBUG', message: `emitting event juju-info-relation-${kind}` });
  });

  test('relation-departed names the departing unit', async () => {
    await ctx.run(ctx.on.relation('departed', rel, { remoteUnit: 'ubuntu/1', departingUnit: 'ubuntu/1' }), {
      relations: [rel],
    });
    expect(seen.departing).toBe('ubuntu/1');
  });

  test('reading a relation that is gone is RelationNotFoundError', async () => {
    await ctx.run(ctx.on.relation('joined', rel, { remoteUnit: 'ubuntu/0' }), { relations: [] });
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.find((l) => l.level === 'ERROR')?.message).toMatch(
      /^uncaught error in hook juju-info-relation-joined: RelationNotFoundError: relation juju-info:4 not found <- caused by: HookToolFailedError/,
    );
  });

  test('leadership and relation-ids', async () => {
    await ctx.run(ctx.on.leaderElected(), { leader: true, relations: [rel, { ...rel, id: 9 }] });
    expect(seen.events).toEqual(['leader=true rels=juju-info:4,juju-info:9']);
  });
});

describe('actions', () => {
  test('typed params, results (nested), logs', async () => {
    await ctx.run(ctx.on.action('greet', { name: 'ops' }), {});
    expect(ctx.exitCode).toBe(0);
    expect(ctx.actionFailure).toBeUndefined();
    expect(ctx.actionLogs).toEqual(['greeting ops']);
    expect(ctx.actionResults).toEqual({ greeting: 'hello ops', times: '1', nested: { a: { b: 'c' } } });
    expect(ctx.calls).toContainEqual(['action-set', 'greeting=hello ops', 'times=1', 'nested.a.b=c']);
    expect(seen.collects).toBe(1);
  });

  test('invalid params: action-fail naming the param, juju-log line, handler not run, exit 0', async () => {
    await ctx.run(ctx.on.action('greet', { name: '', times: 'two' }), {});
    expect(ctx.exitCode).toBe(0);
    expect(ctx.actionFailure).toMatch(
      /^action greet: invalid parameter "name": .*; invalid parameter "times": .*expected number/,
    );
    expect(ctx.jujuLog).toContainEqual({ level: 'ERROR', message: ctx.actionFailure });
    expect(ctx.actionLogs).toEqual([]);
    expect(ctx.actionResults).toEqual({});
  });

  test('an uncaught error in an action: juju-log, action-fail, exit 1', async () => {
    await ctx.run(ctx.on.action('explode'), {});
    expect(ctx.exitCode).toBe(1);
    const msg =
      'uncaught error in action explode: HookToolFailedError: hook tool status-get exited with status 1: ERROR boom';
    expect(ctx.jujuLog).toContainEqual({ level: 'ERROR', message: msg });
    expect(ctx.actionFailure).toBe(msg);
  });

  test('a reserved result key fails the action without running action-set', async () => {
    await ctx.run(ctx.on.action('results'), {});
    expect(ctx.exitCode).toBe(1);
    expect(ctx.actionFailure).toMatch(
      /InvalidArgumentError: invalid action result key "stdout": stdout is reserved by Juju/,
    );
    expect(ctx.calls.some((c) => c[0] === 'action-set')).toBe(false);
  });

  test('a declared action the charm does not handle fails clearly', async () => {
    await ctx.run(ctx.on.action('unhandled'), {});
    expect(ctx.actionFailure).toBe('action unhandled is declared but this charm does not handle it');
  });
});

describe('bad input', () => {
  test("a hook the charm does not know (a newer Juju's): one DEBUG line, exit 0, no handler, no status", async () => {
    await ctx.run(ctx.on.dispatchPath('hooks/bogus'), {});
    expect(ctx.exitCode).toBe(0);
    expect(ctx.jujuLog).toEqual([{ level: 'DEBUG', message: expect.stringMatching(/^event bogus not defined for /) }]);
    expect(seen.collects).toBe(0);
    expect(ctx.statusHistory).toEqual([]);
  });

  test('a malformed hook name is still an error', async () => {
    await ctx.run(ctx.on.dispatchPath('hooks/Bogus'), {});
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)?.message).toMatch(/^cannot dispatch: UnknownEventError: .*not a valid event name/);
  });

  test('an unknown action also calls action-fail', async () => {
    await ctx.run(ctx.on.dispatchPath('actions/nope'), {});
    expect(ctx.exitCode).toBe(1);
    expect(ctx.actionFailure).toBe(
      'cannot dispatch: UnknownEventError: unknown event "actions/nope": action "nope" is not declared in actions.yaml',
    );
  });

  test('a hook tool missing from PATH', async () => {
    await ctx.run(ctx.on.install(), { faults: { 'application-version-set': { kind: 'missing' } } });
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)).toEqual({
      level: 'ERROR',
      message:
        'uncaught error in hook install: HookToolMissingError: hook tool application-version-set not found on PATH (is' +
        ' this running inside a Juju hook?) <- caused by: SpawnError: spawn application-version-set ENOENT',
    });
  });

  test('a hook tool exiting non-zero', async () => {
    await ctx.run(ctx.on.configChanged(), {
      faults: { 'config-get': { kind: 'exit', code: 1, stderr: 'ERROR connection refused\n' } },
    });
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)?.message).toBe(
      'uncaught error in hook config-changed: HookToolFailedError: hook tool config-get exited with status 1: ERROR connection refused',
    );
  });

  test('unparseable JSON from a hook tool', async () => {
    await ctx.run(ctx.on.configChanged(), { faults: { 'config-get': { kind: 'stdout', stdout: 'mode: auto\n' } } });
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)?.message).toMatch(
      /^uncaught error in hook config-changed: HookToolOutputError: unexpected output from config-get: invalid JSON "mode: auto\\n" <- caused by: SyntaxError/,
    );
  });

  test('juju-log itself missing: the error still reaches stderr', async () => {
    await ctx.run(ctx.on.remove(), { faults: { 'juju-log': { kind: 'missing' } } });
    expect(ctx.exitCode).toBe(1);
    expect(ctx.stderr).toContain(
      'uncaught error in hook remove: Error: cleanup failed <- caused by: Error: device busy',
    );
    expect(ctx.stderr).toContain(
      'ERROR: uncaught error in hook remove: Error: cleanup failed <- caused by: Error: device busy',
    );
  });

  test('an uncaught error logs its message and cause chain', async () => {
    await ctx.run(ctx.on.remove(), {});
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)).toEqual({
      level: 'ERROR',
      message: 'uncaught error in hook remove: Error: cleanup failed <- caused by: Error: device busy',
    });
  });

  test('a broken environment exits 1 with the variable named', async () => {
    const bad = new Context(DemoCharm, { meta, config, actions, env: { JUJU_UNIT_NAME: 'no-slash' } });
    await bad.run(bad.on.install(), {});
    expect(bad.exitCode).toBe(1);
    expect(bad.jujuLog[0]?.message).toMatch(
      /^JujuContextError: invalid Juju environment: JUJU_UNIT_NAME: must look like app\/N/,
    );
  });
});

describe('framework details', () => {
  test('a relation hook without JUJU_RELATION_ID is an error, not a silent no-op', async () => {
    await ctx.run(ctx.on.dispatchPath('hooks/juju-info-relation-joined'), {});
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.at(-1)?.message).toBe(
      'uncaught error in hook juju-info-relation-joined: Error: juju-info-relation-joined dispatched without JUJU_RELATION_ID',
    );
  });

  test('custom events reach their observers in order; observing an action twice is refused', async () => {
    const order: string[] = [];
    class Custom extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observeCustom('refreshed', (e) => {
          order.push(`1:${String(e.data)}`);
        });
        framework.observeCustom('refreshed', (e) => {
          order.push(`2:${String(e.data)}`);
        });
        framework.observe('install', () => framework.emitCustom('refreshed', 'x'));
      }
    }
    const c = new Context(Custom, { meta, config, actions });
    await c.run(c.on.install(), {});
    expect(c.exitCode).toBe(0);
    expect(order).toEqual(['1:x', '2:x']);

    class Twice extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observeAction('greet', z.object({}), () => undefined);
        framework.observeAction('greet', z.object({}), () => undefined);
      }
    }
    const t = new Context(Twice, { meta, config, actions });
    await t.run(t.on.install(), {});
    expect(t.exitCode).toBe(1);
    expect(t.jujuLog.at(-1)?.message).toBe(
      'charm construction failed during install: RegistrationError: action greet is observed twice',
    );
  });

  test('observing an event or action the metadata does not declare fails the construction, naming it', async () => {
    const failure = async (register: (framework: Framework) => void): Promise<string | undefined> => {
      class Bad extends CharmBase {
        constructor(framework: Framework) {
          super(framework);
          register(framework);
        }
      }
      const c = new Context(Bad, { meta, config, actions });
      await c.run(c.on.install(), {});
      expect(c.exitCode).toBe(1);
      return c.jujuLog.at(-1)?.message;
    };
    expect(await failure((f) => f.observe('juju-inf-relation-joined', () => undefined))).toBe(
      'charm construction failed during install: RegistrationError: cannot observe juju-inf-relation-joined: juju-inf is' +
        ' not an endpoint of demo (endpoints: juju-info)',
    );
    expect(await failure((f) => f.observeAction('greeet', z.object({}), () => undefined))).toBe(
      'charm construction failed during install: RegistrationError: cannot observe action greeet: actions.yaml does not' +
        ' declare it (actions: greet, explode, results, unhandled)',
    );
    expect(await failure((f) => f.observeCustom('install', () => undefined))).toBe(
      'charm construction failed during install: RegistrationError: cannot observe install as a custom event: Juju emits it (use observe)',
    );
    // A hook name the framework does not know does not compile; at run time (a cast) it is refused too.
    // @ts-expect-error 'config-chagned' is not an ObservableEvent
    expect(await failure((f) => f.observe('config-chagned', () => undefined))).toBe(
      'charm construction failed during install: RegistrationError: cannot observe config-chagned: not a hook, a' +
        ' relation event or collect-status (use observeCustom)',
    );
  });

  test('a charm cannot set an error status', async () => {
    class Err extends CharmBase {
      constructor(framework: Framework) {
        super(framework);
        framework.observe('install', () => this.model.unit.setStatus({ name: 'error', message: 'x' }));
      }
    }
    const c = new Context(Err, { meta, config, actions });
    await c.run(c.on.install(), {});
    expect(c.exitCode).toBe(1);
    expect(c.jujuLog.at(-1)?.message).toMatch(/InvalidArgumentError: status "error" cannot be set by a charm/);
    expect(c.calls.some((call) => call[0] === 'status-set')).toBe(false);
  });
});
