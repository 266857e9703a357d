export type { Run } from './run.js';
export { parseJsonOutput } from './run.js';
export { configGet, ConfigMapSchema, ConfigValueSchema, type ConfigValue } from './config.js';
export { networkGet, NetworkGetSchema, type NetworkGetOutput } from './network.js';
export {
  statusSet,
  statusGet,
  applicationVersionSet,
  SETTABLE_STATUSES,
  STATUS_NAMES,
  StatusGetSchema,
  type SettableStatusName,
  type StatusName,
  type StatusGetOutput,
} from './status.js';
export { jujuLog, LOG_LEVELS, type LogLevel } from './log.js';
export { isLeader } from './leader.js';
export {
  actionGet,
  actionSet,
  actionLog,
  actionFail,
  flattenActionResults,
  validateActionKey,
  ACTION_KEY_SEGMENT_RE,
  RESERVED_ACTION_KEYS,
  type ActionResults,
  type ActionResultValue,
} from './action.js';
export { relationIds, relationList, relationGet, RELATION_ID_RE, RelationIdSchema } from './relation.js';
export { stateGet, stateSet } from './state.js';
