/**
 * The harness's consistency checker (Scenario's `check_consistency`): a State or event the
 * charm's own metadata could never produce is a mistake in the test, not a case the charm must
 * handle. Context.run refuses it, naming every inconsistency, before anything is dispatched.
 */
import type { CharmSpec } from '../charmspec.js';
import { OpsError } from '../errors.js';
import { isLifecycleHook } from '../events.js';
import type { TestEvent } from './context.js';
import { relationIdOf, type State } from './state.js';

export class InconsistentScenarioError extends OpsError {
  override name = 'InconsistentScenarioError';
}

/** Whether a config value has the type config.yaml declares for its option. */
function hasOptionType(type: string, value: string | number | boolean): boolean {
  switch (type) {
    case 'string':
    case 'secret':
      return typeof value === 'string';
    case 'int':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

/** Every way `event` and `state` disagree with the charm's metadata, config and actions; empty when consistent. */
export function inconsistencies(spec: CharmSpec, event: TestEvent, state: State): string[] {
  const out: string[] = [];
  const endpoints = Object.keys(spec.endpoints);
  for (const [key, value] of Object.entries(state.config ?? {})) {
    const type = spec.configTypes[key];
    if (type === undefined) out.push(`config option ${JSON.stringify(key)} is not declared in config.yaml`);
    else if (!hasOptionType(type, value))
      out.push(`config option ${key} is declared as ${type}, but the state sets ${JSON.stringify(value)}`);
  }
  const ids = new Set<string>();
  for (const relation of state.relations ?? []) {
    const id = relationIdOf(relation);
    if (!endpoints.includes(relation.endpoint))
      out.push(`relation ${id}: ${relation.endpoint} is not an endpoint in metadata.yaml`);
    if (ids.has(id)) out.push(`relation ${id} is in the state twice`);
    ids.add(id);
  }
  const bindings = [...endpoints, ...spec.extraBindings];
  for (const binding of Object.keys(state.networks ?? {})) {
    if (!bindings.includes(binding))
      out.push(`network ${JSON.stringify(binding)} is neither an endpoint nor an extra-binding in metadata.yaml`);
  }
  switch (event.kind) {
    case 'hook':
      if (!isLifecycleHook(event.name))
        out.push(`event ${JSON.stringify(event.name)} is not a hook Juju emits (relation events: on.relation)`);
      break;
    case 'relation':
      if (!endpoints.includes(event.relation.endpoint))
        out.push(`event ${event.name}: ${event.relation.endpoint} is not an endpoint in metadata.yaml`);
      break;
    case 'action':
      if (!spec.actions.includes(event.name))
        out.push(`action ${JSON.stringify(event.name)} is not declared in actions.yaml`);
      break;
    case 'raw':
      // Any dispatch path, on purpose: how the charm treats an unknown event is what such a test checks.
      break;
  }
  return out;
}
