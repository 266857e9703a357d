/** Test harnesses for charms built on src/ops. */
export { Context, on, type ContextOptions, type TestEvent } from './context.js';
export { inconsistencies, InconsistentScenarioError } from './consistency.js';
export { FakeJuju, type FakeJujuOptions, type Trace, type JujuLogLine, type NestedResults } from './fake-juju.js';
export {
  DEFAULT_NETWORK,
  UNKNOWN_STATUS,
  relationIdOf,
  type State,
  type RelationState,
  type ToolFault,
} from './state.js';
