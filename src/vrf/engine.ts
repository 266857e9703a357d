/**
 * The orchestration the charm and the CLI share: observe the host, derive the
 * desired state, plan, apply under the host lock, persist, install the boot
 * unit; tear down when the last unit leaves; show; check gateways.
 *
 * Nothing here is jest-specific: a plain node script can import it and run it
 * against the real `ip` (the kernel suite does). Every path is under an
 * injectable root, /proc and /sys are injectable, and so are the `ip` binary,
 * the spawn function and the pure domain functions (for unit tests).
 */
export {
  DEFAULT_DEPS,
  EngineError,
  detectContainer,
  vrfModulePresent,
  observeHost,
  MIN_IPROUTE2,
  parseIpVersion,
  diagnoseIproute2,
  preflight,
  readNetplan,
} from './engine/host.js';
export type { EngineDeps, EngineOptions, ObserveOptions } from './engine/host.js';
export { stepVrf, driftOf, appOfUnit, desiredKey, conflictProblem, unsettledMessage } from './engine/report.js';
export type { PlannedStep, DriftSummary, Unsettled } from './engine/report.js';
export { APPLY_ROUNDS, SETTLE_MS } from './engine/settle.js';
export type { SettleOptions } from './engine/settle.js';
export { persistHostFiles, converge } from './engine/converge.js';
export type { ConvergeOptions, ConvergeReport } from './engine/converge.js';
export { teardown } from './engine/teardown.js';
export { NO_SERVICES } from './engine/services.js';
export type { ServicesReport } from './engine/services.js';
export type { TeardownOptions, TeardownReport } from './engine/teardown.js';
export { show, formatShow, managerText } from './engine/show.js';
export type { ServiceShow } from './services/show.js';
export { firewallLines, forwardingLines, type HostFilterShow } from './engine/hostfilter.js';
export type { MemberShow, DefaultRouteShow, VrfShow, ShowReport, ShowOptions } from './engine/show.js';
export { parsePing, checkGateways } from './engine/probe.js';
export type { ProbeResult, CheckGatewaysOptions } from './engine/probe.js';
