/**
 * vrf-host: the glue between Juju (src/ops) and the VRF engine (src/vrf).
 * Each handler gathers its facts (config-get, network-get for every binding,
 * JUJU_API_ADDRESSES), hands plain data to src/charm/run.ts, and records an
 * Outcome; the one collect-status step turns it into the unit status. The
 * only status set elsewhere is the interim Maintenance shown while changes are
 * being applied (a hook's final status always comes from collect-status).
 * A dispatch that decides nothing (show-vrfs, plan, check-gateways,
 * leader-elected) leaves the status as it was.
 *
 * Where the engine acts comes from the environment (src/charm/host.ts:
 * VRF_HOST_ROOT, VRF_HOST_IP, …); in-process tests build the class with
 * createVrfHostCharm(() => host) instead.
 */
import { CharmBase, ModelError, RELATION_EVENT_KINDS, Status, type CharmClass, type Framework } from './ops/index.js';
import { isIp } from './vrf/addr.js';
import { vrfNameProblem } from './vrf/names.js';
import { DEFAULT_BINDING } from './vrf/types.js';
import { EngineError } from './vrf/engine.js';
import { hostFromEnv, type CharmHost } from './charm/host.js';
import { applyFailure, applyResults, planResults, probeResults, showResults } from './charm/results.js';
import {
  convergeHost,
  planHost,
  probeHost,
  showHost,
  teardownHost,
  type ConvergeMode,
  type JujuFacts,
  type Reporter,
} from './charm/run.js';
import { memoAllowance, recordingFiles, recordingHost } from './charm/recording.js';
import { outcomeStatus, problemLine, type Outcome } from './charm/status.js';
import type { NetworkData } from './charm/inputs.js';
import { ACTION_PARAMS } from './charm/action-params.gen.js';

// Each action's params are validated as actions.yaml declares them (generated from it); the charm
// adds only what JSON-Schema cannot say there.
const CheckGatewaysParams = ACTION_PARAMS['check-gateways'].superRefine((p, ctx) => {
  if (p.vrf !== undefined && vrfNameProblem(p.vrf) !== null)
    ctx.addIssue({
      code: 'custom',
      path: ['vrf'],
      message: `${JSON.stringify(p.vrf)} is not a VRF name: ${vrfNameProblem(p.vrf) ?? ''}`,
    });
  if (p.target !== undefined && !isIp(p.target))
    ctx.addIssue({
      code: 'custom',
      path: ['target'],
      message: `${JSON.stringify(p.target)} is not an IPv4 or IPv6 address`,
    });
  if (p.target !== undefined && p.vrf === undefined)
    ctx.addIssue({ code: 'custom', path: ['target'], message: 'needs vrf, the VRF to probe it from' });
});

export type HostFactory = (framework: Framework) => CharmHost;

/** Production: the host from VRF_HOST_* (the real paths when unset). */
export const hostFromProcess: HostFactory = (f) => hostFromEnv(process.env, f.context.charmDir ?? process.cwd());

/** The charm class, acting on the host `hostFor` describes. */
export function createVrfHostCharm(hostFor: HostFactory): CharmClass {
  return class VrfHostCharm extends CharmBase {
    private outcome: Outcome | undefined;
    private cachedHost: CharmHost | undefined;

    constructor(framework: Framework) {
      super(framework);
      for (const hook of ['install', 'config-changed', 'upgrade-charm', 'start'] as const) {
        framework.observe(hook, async () => void (await this.converge('apply')));
      }
      framework.observe('update-status', async () => void (await this.converge('update-status')));
      for (const kind of RELATION_EVENT_KINDS) {
        framework.observe(`juju-info-relation-${kind}`, async () => void (await this.converge('apply')));
      }
      framework.observe('stop', () => this.teardown());
      framework.observe('remove', () => this.teardown());
      // leader-elected: nothing to do (every unit manages its own machine).
      framework.observe('collect-status', (event) => {
        if (this.outcome === undefined) return; // e.g. show-vrfs: the status stays as it is
        const s = outcomeStatus(this.outcome);
        event.addStatus({ name: s.name, message: s.message });
      });

      framework.observeAction('show-vrfs', ACTION_PARAMS['show-vrfs'], async (event) => {
        const r = await showHost(await this.facts(), this.host(), event.params.routes, this.reporter());
        await event.setResults(showResults(r, event.params.routes));
      });
      framework.observeAction('plan', ACTION_PARAMS.plan, async (event) => {
        const p = await planHost(await this.facts(), this.host(), event.params.config, this.reporter());
        if (!p.ok) {
          await event.fail(`plan: ${p.message}`);
          return;
        }
        await event.setResults(planResults(p.report));
      });
      framework.observeAction('apply', ACTION_PARAMS.apply, async (event) => {
        const r = await this.converge('apply', true);
        if (r === null) {
          await event.fail(`apply: ${this.outcome ? outcomeStatus(this.outcome).message : 'nothing to apply'}`);
          return;
        }
        if (r.problems.length > 0) {
          await event.fail(`apply: ${r.problems.map(problemLine).join('; ')}`);
          return;
        }
        await event.setResults(applyResults(r));
        const failed = applyFailure(r);
        if (failed !== null) await event.fail(`apply: ${failed}`);
      });
      framework.observeAction('check-gateways', CheckGatewaysParams, async (event) => {
        try {
          await event.setResults(probeResults(await probeHost(this.host(), event.params.vrf, event.params.target)));
        } catch (e) {
          if (!(e instanceof EngineError)) throw e;
          await event.fail(`check-gateways: ${e.message}`);
        }
      });
    }

    private host(): CharmHost {
      this.cachedHost ??= hostFor(this.framework);
      return this.cachedHost;
    }

    private reporter(): Reporter {
      return {
        log: (level, message) => this.log.log(level, message),
        maintenance: (message) => this.model.unit.setStatus(Status.maintenance(message)),
      };
    }

    /** config-get and network-get for every binding (concurrently), JUJU_API_ADDRESSES. */
    private async facts(): Promise<JujuFacts> {
      const bindings = [DEFAULT_BINDING, ...this.framework.spec.extraBindings.filter((b) => b !== DEFAULT_BINDING)];
      // All at once: each network-get is a round trip to the unit agent (tens of ms on a real one).
      const [config, ...results] = await Promise.all([
        this.model.getConfig(),
        ...bindings.map(async (b): Promise<NetworkData | Error> => {
          try {
            return await this.model.getBinding(b);
          } catch (e) {
            if (!(e instanceof ModelError)) throw e;
            return e;
          }
        }),
      ]);
      const networks: Record<string, NetworkData | Error> = Object.fromEntries(
        bindings.map((b, i) => [b, results[i]!]),
      );
      return {
        unit: this.framework.context.unitName,
        config,
        options: Object.keys(this.framework.spec.configTypes),
        networks,
        extraBindings: this.framework.spec.extraBindings,
        apiHosts: this.framework.context.apiAddresses.map((a) => a.host),
      };
    }

    private async converge(mode: ConvergeMode, force = false) {
      if (mode !== 'update-status') {
        const r = await convergeHost(await this.facts(), this.host(), mode, this.reporter(), force);
        this.outcome = r.outcome;
        return r.report;
      }
      // update-status: a run that only read may be answered by dispatch next time (src/charm/memo.sh).
      // Every process it starts and every file it reads is recorded as it happens.
      const { host, calls } = recordingHost(this.host());
      const { result: r, reads } = await recordingFiles(async () =>
        convergeHost(await this.facts(), host, mode, this.reporter(), force),
      );
      this.outcome = r.outcome;
      const changedNothing = r.report === null || (r.report.applied.length === 0 && r.report.failure === null);
      const allowance = changedNothing ? memoAllowance(calls, host, reads()) : null;
      if (allowance !== null) this.framework.memo.allow(allowance);
      return r.report;
    }

    private async teardown(): Promise<void> {
      this.outcome = await teardownHost(this.framework.context.unitName, this.host(), this.reporter());
    }
  };
}

export const VrfHostCharm = createVrfHostCharm(hostFromProcess);
