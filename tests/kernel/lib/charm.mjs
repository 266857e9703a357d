// The packed charm, run as Juju runs it: vrf-host.charm unzipped into the unit's agent directory,
// each hook's `dispatch` run under the hook-tool simulator (src/ops/testing/simulator) INSIDE the unit's network namespace.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { run } from './exec.mjs';
import { spaceOf } from './topology.mjs';

/**
 * @typedef {typeof import('../../../src/ops/testing/simulator/harness.js')} Harness
 * @typedef {import('../../../src/ops/testing/simulator/harness.js').Simulator} Simulator
 * @typedef {import('../../../src/ops/testing/simulator/harness.js').SimStateInput} SimStateInput
 * @typedef {import('../../../src/ops/testing/simulator/harness.js').SimRecord} SimRecord
 * @typedef {import('./topology.mjs').Space} Space
 * @typedef {import('./topology.mjs').Topology} Topology
 * @typedef {{ exitCode: number, stdout: string, stderr: string, record: SimRecord, ms: number }} DispatchOutcome
 * @typedef {{ params?: Record<string, unknown>, env?: Record<string, string>, timeoutMs?: number }} DispatchOptions
 */

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const CHARM_FILE = path.join(REPO, 'vrf-host.charm');
export const HARNESS = path.join(REPO, 'build', 'simulator', 'harness.mjs');
const IP = ['/usr/sbin/ip', '/usr/bin/ip', '/sbin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/** @type {Promise<Harness> | undefined} */
let harnessModule;
/**
 * The simulator bundle, imported once per process (it runs here; only dispatch enters the namespace).
 * @returns {Promise<Harness>}
 */
async function harness() {
  harnessModule ??= import(pathToFileURL(HARNESS).href).then((/** @type {Harness} */ m) => {
    if (m.DISPATCH_COMMAND !== true)
      throw new CharmRunError(
        `${HARNESS} cannot run dispatch inside a namespace (no DispatchOptions.command): run npm run build`,
      );
    return m;
  });
  return harnessModule;
}

export class CharmRunError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'CharmRunError';
  }
}

/**
 * network-get's JSON for one binding, exactly as Juju prints it, from a topology space.
 * @param {Space} space a topology space (describe()); `dev` is the interface Juju reports
 * @param {{ mac?: string, ipv6?: boolean }} [options]
 */
export function networkGetFor(space, { mac = '00:00:00:00:00:00', ipv6 = true } = {}) {
  const addrs = [{ hostname: '', address: space.unitAddr, cidr: space.cidr, value: space.unitAddr }];
  if (ipv6 && space.unitAddr6 && space.cidr6)
    addrs.push({ hostname: '', address: space.unitAddr6, cidr: space.cidr6, value: space.unitAddr6 });
  return {
    'bind-addresses': [
      { 'mac-address': mac, 'interface-name': space.dev, addresses: addrs, macaddress: mac, interfacename: space.dev },
    ],
    'egress-subnets': [`${space.unitAddr}/32`],
    'ingress-addresses': [space.unitAddr],
  };
}

export const EXTRA_BINDINGS = ['mgmt', 'public', 'internal', 'admin', 'storage', 'storage-cluster', 'tenant'];

/**
 * The `networks` map of the simulator state for a topology: juju-info (the default binding) is the
 * default space; each extra binding maps to the space of the same name unless `bindings` says otherwise.
 * @param {Topology} topo
 * @param {Record<string,string>} [bindings] binding name → space name
 */
export function networksFor(topo, bindings) {
  const map =
    bindings ??
    Object.fromEntries(
      Object.keys(topo.spaces)
        .filter((s) => EXTRA_BINDINGS.includes(s))
        .map((s) => [s, s]),
    );
  const dflt = networkGetFor(spaceOf(topo, topo.defaultSpace), { ipv6: topo.ipv6 });
  // Unbound extra-bindings follow the default binding's space, as in Juju.
  const out = Object.fromEntries(['juju-info', ...EXTRA_BINDINGS].map((b) => [b, dflt]));
  for (const [binding, spaceName] of Object.entries(map)) {
    const s = topo.spaces[spaceName];
    if (!s) throw new CharmRunError(`binding ${binding}: no space ${spaceName} in the topology`);
    out[binding] = networkGetFor(s, { ipv6: topo.ipv6 });
  }
  return out;
}

/**
 * A deployed vrf-host unit in namespace `ns`: unzips the packed charm once, keeps the simulator
 * state between hooks (server-side state and the unit status carry over, as in Juju).
 */
export class CharmUnit {
  /**
   * @param {{ns: string, state: SimStateInput, charmFile?: string, agentDir?: string, controller?: string,
   *   fast?: boolean, wrap?: readonly string[]}} o
   *   controller: JUJU_API_ADDRESSES (e.g. "10.100.0.5:17070")
   *   fast: the simulator's fast mode (sh hook tools, no Node per hook-tool call; same records);
   *         the suite's default (measured in the VM: install 44 s → 25 s under load); VRF_HOST_SIM_FAST=0
   *         runs every hook with the Node tools instead
   *   wrap: argv run inside the namespace in front of node (e.g. a private mount namespace)
   */
  constructor({
    ns,
    state,
    charmFile = CHARM_FILE,
    agentDir = '/var/lib/juju/agents/unit-vrf-host-0',
    controller,
    fast = process.env.VRF_HOST_SIM_FAST !== '0',
    wrap = [],
  }) {
    if (!existsSync(charmFile)) throw new CharmRunError(`no packed charm at ${charmFile}: run npm run pack`);
    if (!existsSync(HARNESS)) throw new CharmRunError(`no simulator bundle at ${HARNESS}: run npm run build`);
    this.ns = ns;
    this.charmDir = path.join(agentDir, 'charm');
    this.simDir = path.join(agentDir, 'sim');
    this.env = controller ? { JUJU_API_ADDRESSES: controller } : {};
    this.fast = fast;
    this.wrap = wrap;
    rmSync(agentDir, { recursive: true, force: true });
    mkdirSync(this.charmDir, { recursive: true });
    mkdirSync(this.simDir, { recursive: true });
    // (bin/node is 120 MB: inflating it takes 5–30 s under TCG on a loaded host)
    run(['unzip', '-q', '-o', charmFile, '-d', this.charmDir], { timeoutMs: 300_000 });
    // config-get prints every option with its default applied.
    const cfg = YAML.parse(readFileSync(path.join(this.charmDir, 'config.yaml'), 'utf8'));
    const defaults = Object.fromEntries(
      Object.entries(cfg?.options ?? {})
        .filter(([, o]) => o && 'default' in o)
        .map(([k, o]) => [k, o.default]),
    );
    /** @type {SimStateInput} */
    this.state = { ...state, config: { ...defaults, ...(state.config ?? {}) } };
    /** @type {Simulator | undefined} */
    this.sim = undefined;
    /**
     * Every hook/action run so far.
     * @type {{ dispatchPath: string, exitCode: number, ms: number, status: SimRecord['status'] }[]}
     */
    this.history = [];
  }

  /**
   * Change the simulator state (e.g. config) before the next hook.
   * @param {(state: SimStateInput) => SimStateInput} change
   */
  update(change) {
    this.state = change(this.state);
  }

  /**
   * Set config options (merged into the current config).
   * @param {Record<string, string | number | boolean>} values
   */
  config(values) {
    this.update((s) => ({ ...s, config: { ...(s.config ?? {}), ...values } }));
  }

  /**
   * Run `hooks/NAME` or `actions/NAME` through the packed dispatch, in the unit namespace.
   * @param {string} dispatchPath
   * @param {DispatchOptions} [options]
   * @returns {Promise<DispatchOutcome>}
   */
  async dispatch(dispatchPath, { params, env = {}, timeoutMs = 180_000 } = {}) {
    // The simulator runs in this process (one import per suite run, one simulator per unit); only
    // `ip netns exec NS [wrap…] dispatch` starts per hook: no extra Node start per hook.
    const h = await harness();
    const t0 = Date.now();
    const sim = (this.sim ??= await h.createSimulator({ dir: this.simDir, state: this.state, fast: this.fast }));
    sim.clearJournal();
    sim.setState(this.state);
    let r;
    try {
      r = await h.runDispatch(this.charmDir, dispatchPath, sim, {
        env: { ...this.env, ...env },
        ...(params ? { params } : {}),
        timeout: timeoutMs,
        command: [IP, 'netns', 'exec', this.ns, ...this.wrap],
      });
    } catch (e) {
      throw new CharmRunError(
        `${dispatchPath}: the simulator could not run dispatch in ${this.ns}: ${e instanceof Error ? e.message : e}`,
        { cause: e },
      );
    }
    const ms = Date.now() - t0;
    const res = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, record: r.record, state: sim.state() };
    // What Juju keeps between hooks: the unit status and the server-side state.
    this.state = { ...res.state, action: null, stored: res.record.stored, status: { ...res.record.status, data: {} } };
    const out = { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, record: res.record, ms };
    this.history.push({ dispatchPath, exitCode: res.exitCode, ms, status: res.record.status });
    return out;
  }

  /**
   * @param {string} name
   * @param {DispatchOptions} [opts]
   */
  hook(name, opts) {
    return this.dispatch(`hooks/${name}`, opts);
  }

  /**
   * @param {string} name
   * @param {Record<string, unknown>} [params]
   * @param {Omit<DispatchOptions, 'params'>} [opts]
   */
  action(name, params = {}, opts = {}) {
    return this.dispatch(`actions/${name}`, { ...opts, params });
  }
}
