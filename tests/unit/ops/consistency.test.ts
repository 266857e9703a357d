import { CharmBase, type Framework } from '../../../src/ops/index.js';
import { Context, InconsistentScenarioError, type RelationState } from '../../../src/ops/testing/index.js';

const meta = {
  name: 'demo',
  subordinate: true,
  requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
  'extra-bindings': { storage: null },
};
const config = { options: { mode: { type: 'string', default: 'auto' }, mtu: { type: 'int', default: 1500 } } };
const actions = { greet: {} };

let ran = 0;
class Quiet extends CharmBase {
  constructor(framework: Framework) {
    super(framework);
    framework.observe('install', () => void ran++);
  }
}

const rel = (endpoint: string, id = 1): RelationState => ({ endpoint, id, remoteApp: 'ubuntu', remoteUnitsData: {} });

describe("the harness's consistency checker", () => {
  const ctx = new Context(Quiet, { meta, config, actions });

  it('runs a scenario the metadata could produce', async () => {
    ran = 0;
    await ctx.run(ctx.on.install(), {
      config: { mode: 'manual', mtu: 9000 },
      relations: [rel('juju-info')],
      networks: { storage: { interfaces: [], ingressAddresses: [], egressSubnets: [] } },
    });
    expect([ctx.exitCode, ran]).toEqual([0, 1]);
  });

  it('refuses undeclared config keys, badly typed values, endpoints, bindings and duplicate relations, naming each', async () => {
    ran = 0;
    const run = ctx.run(ctx.on.install(), {
      config: { mdoe: 'manual', mtu: 1.5 },
      relations: [rel('juju-inf'), rel('juju-info', 2), rel('juju-info', 2)],
      networks: { strage: { interfaces: [], ingressAddresses: [], egressSubnets: [] } },
    });
    await expect(run).rejects.toThrow(InconsistentScenarioError);
    await expect(run).rejects.toThrow(
      'inconsistent scenario: config option "mdoe" is not declared in config.yaml; ' +
        'config option mtu is declared as int, but the state sets 1.5; ' +
        'relation juju-inf:1: juju-inf is not an endpoint in metadata.yaml; ' +
        'relation juju-info:2 is in the state twice; ' +
        'network "strage" is neither an endpoint nor an extra-binding in metadata.yaml',
    );
    expect(ran).toBe(0);
  });

  it('refuses events the metadata does not declare', async () => {
    await expect(ctx.run(ctx.on.hook('instal'))).rejects.toThrow(
      'inconsistent scenario: event "instal" is not a hook Juju emits (relation events: on.relation)',
    );
    await expect(
      ctx.run(ctx.on.relation('joined', rel('juju-inf')), { relations: [rel('juju-info')] }),
    ).rejects.toThrow(
      'inconsistent scenario: event juju-inf-relation-joined: juju-inf is not an endpoint in metadata.yaml',
    );
    await expect(ctx.run(ctx.on.action('greeet'))).rejects.toThrow(
      'inconsistent scenario: action "greeet" is not declared in actions.yaml',
    );
  });

  it('lets a raw dispatch path through (what the charm does with an unknown event is the test)', async () => {
    await ctx.run(ctx.on.dispatchPath('hooks/no-such-hook'));
    expect(ctx.exitCode).toBe(0);
  });
});
