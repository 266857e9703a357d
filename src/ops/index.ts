/** The public API of the ops port. */
export { main, dispatch, type MainOptions, type DispatchOptions, type MemoOptions } from './main.js';
export { MemoControl, type MemoAllowance, type RecordRequest, type RecordText } from './memo.js';
export { StatusMemory, JUJU_SETS_STATUS } from './status-memory.js';
export { CharmBase, type CharmClass } from './charm-base.js';
export { Framework, Logger, type Handler } from './framework.js';
export {
  Model,
  Unit,
  Relation,
  StoredState,
  networkFromOutput,
  type Network,
  type NetworkInterface,
  type NetworkAddress,
  type ConfigResult,
  type ConfigProblem,
} from './model.js';
export {
  Status,
  STATUS_PRIORITY,
  highestPriority,
  type SettableStatus,
  type StatusName,
  type SettableStatusName,
} from './status.js';
export {
  resolveDispatchPath,
  LIFECYCLE_HOOKS,
  RELATION_EVENT_KINDS,
  type DispatchTarget,
  type HookEvent,
  type RelationEvent,
  type ActionEvent,
  type CollectStatusEvent,
  type CustomEvent,
  type AnyEvent,
  type EventFor,
  type LifecycleHookName,
  type RelationEventName,
  type RelationEventKind,
} from './events.js';
export { parseJujuContext, parseHostPort, type JujuContext, type HostPort, type RelationRef } from './context.js';
export { loadCharmSpec, charmSpecFrom, type CharmSpec } from './charmspec.js';
export { ModelBackend, classifyingRun } from './backend.js';
export {
  processRunner,
  syncRun,
  SpawnError,
  type RawRun,
  type RawResult,
  type ProcessRunnerOptions,
  type ProcessCall,
} from './runner.js';
export {
  OpsError,
  ModelError,
  RelationNotFoundError,
  HookToolMissingError,
  HookToolFailedError,
  HookToolOutputError,
  InvalidArgumentError,
  JujuContextError,
  UnknownEventError,
  describeError,
} from './errors.js';
export { isActionKeySegment, type ActionResults, type ActionResultValue } from './hookcmds/action.js';
export type { ConfigValue } from './hookcmds/config.js';
export type { LogLevel } from './hookcmds/log.js';
export * as hookcmds from './hookcmds/index.js';
