/**
 * Event naming: JUJU_DISPATCH_PATH → the event, and the event objects.
 */
import { UnknownEventError } from './errors.js';
import type { CharmSpec } from './charmspec.js';
import type { Relation } from './model.js';
import type { Status } from './status.js';
import type { ActionResults } from './hookcmds/action.js';

/** Hooks every charm may receive (machine charms; no storage/pebble/secrets-by-label here). */
export const LIFECYCLE_HOOKS = [
  'install',
  'start',
  'stop',
  'remove',
  'config-changed',
  'update-status',
  'upgrade-charm',
  'leader-elected',
  'leader-settings-changed',
  'pre-series-upgrade',
  'post-series-upgrade',
  'collect-metrics',
  'secret-changed',
  'secret-expired',
  'secret-remove',
  'secret-rotate',
] as const;
export type LifecycleHookName = (typeof LIFECYCLE_HOOKS)[number];

/** Is `name` one of Juju's hooks that are not relation events? */
export function isLifecycleHook(name: string): name is LifecycleHookName {
  return LIFECYCLE_HOOKS.some((h) => h === name);
}

export const RELATION_EVENT_KINDS = ['created', 'joined', 'changed', 'departed', 'broken'] as const;
export type RelationEventKind = (typeof RELATION_EVENT_KINDS)[number];
export type RelationEventName = `${string}-relation-${RelationEventKind}`;
/** `ENDPOINT-relation-KIND`: group 1 is the endpoint, group 2 the kind. */
export const RELATION_EVENT_RE = new RegExp(`^(.+)-relation-(${RELATION_EVENT_KINDS.join('|')})$`);
/** What Framework.observe accepts: Juju's hooks, its relation events, and collect-status. */
export type ObservableEvent = LifecycleHookName | RelationEventName | 'collect-status';

const NAME_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export type DispatchTarget =
  | { readonly kind: 'hook'; readonly name: LifecycleHookName }
  | { readonly kind: 'relation'; readonly name: string; readonly endpoint: string; readonly event: RelationEventKind }
  | { readonly kind: 'action'; readonly name: string }
  /** A well-formed hook the charm has no event for (e.g. one a newer Juju added): ops logs it at DEBUG and exits 0. */
  | { readonly kind: 'unknown'; readonly name: string; readonly reason: string };

/**
 * `hooks/NAME` → the NAME event, `actions/NAME` → the NAME action, checked
 * against the charm's metadata. A hook the charm does not know is `unknown`
 * (as in ops, whose charm.on has no such event: a newer Juju's hook, or a
 * relation endpoint an older revision declared, must not put the unit in
 * error). Throws UnknownEventError for a malformed path or name and for an
 * action actions.yaml does not declare (Juju never runs one).
 */
export function resolveDispatchPath(
  dispatchPath: string,
  spec: Pick<CharmSpec, 'endpoints' | 'actions'>,
): DispatchTarget {
  const m = /^(hooks|actions)\/([^/]+)$/.exec(dispatchPath.replace(/^\.\//, ''));
  if (!m) throw new UnknownEventError(dispatchPath, 'expected hooks/NAME or actions/NAME');
  const dir = m[1];
  const name = m[2] ?? '';
  if (!NAME_RE.test(name))
    throw new UnknownEventError(dispatchPath, `${JSON.stringify(name)} is not a valid event name`);
  if (dir === 'actions') {
    if (!spec.actions.includes(name)) {
      throw new UnknownEventError(dispatchPath, `action ${JSON.stringify(name)} is not declared in actions.yaml`);
    }
    return { kind: 'action', name };
  }
  if (isLifecycleHook(name)) return { kind: 'hook', name };
  const rel = RELATION_EVENT_RE.exec(name);
  const event = RELATION_EVENT_KINDS.find((k) => k === rel?.[2]);
  if (rel && event) {
    const endpoint = rel[1] ?? '';
    if (Object.hasOwn(spec.endpoints, endpoint)) return { kind: 'relation', name, endpoint, event };
    return { kind: 'unknown', name, reason: `relation endpoint ${JSON.stringify(endpoint)} is not in metadata.yaml` };
  }
  return { kind: 'unknown', name, reason: 'not a hook this charm knows' };
}

// ---------------------------------------------------------------------------
// Event objects
// ---------------------------------------------------------------------------

export interface HookEvent {
  readonly kind: 'hook';
  readonly name: string;
}

export interface RelationEvent {
  readonly kind: 'relation';
  readonly name: string;
  readonly relation: Relation;
  readonly remoteUnit?: string;
  readonly remoteApp?: string;
  readonly departingUnit?: string;
}

export interface ActionEvent<P = Record<string, unknown>> {
  readonly kind: 'action';
  readonly name: string;
  readonly id?: string;
  readonly params: P;
  /** action-set (nested results flattened with '.'); keys are validated first. */
  setResults(results: ActionResults): Promise<void>;
  /** action-log */
  log(message: string): Promise<void>;
  /** action-fail; the dispatch still exits 0. */
  fail(message: string): Promise<void>;
}

export interface CollectStatusEvent {
  readonly kind: 'collect-status';
  readonly name: 'collect-status';
  /** Offer a status; after all handlers, the highest-priority one is set. */
  addStatus(status: Status): void;
}

/** A charm-defined event, emitted with framework.emit. */
export interface CustomEvent<D = unknown> {
  readonly kind: 'custom';
  readonly name: string;
  readonly data: D;
}

export type AnyEvent = HookEvent | RelationEvent | ActionEvent<unknown> | CollectStatusEvent | CustomEvent;

/** The event type a handler of `N` receives. */
export type EventFor<N extends string> = N extends 'collect-status'
  ? CollectStatusEvent
  : N extends LifecycleHookName
    ? HookEvent
    : N extends RelationEventName
      ? RelationEvent
      : CustomEvent;
