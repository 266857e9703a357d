/**
 * The framework (ops' `Framework`): observers, emit, and the logger.
 * The dispatch itself lives in main.ts.
 */
import { MemoControl } from './memo.js';
import type { z } from 'zod';
import type { ModelBackend } from './backend.js';
import type { CharmSpec } from './charmspec.js';
import type { JujuContext } from './context.js';
import { RegistrationError } from './errors.js';
import {
  type ActionEvent,
  type AnyEvent,
  type CustomEvent,
  type EventFor,
  isLifecycleHook,
  type ObservableEvent,
  RELATION_EVENT_RE,
} from './events.js';
import type { LogLevel } from './hookcmds/log.js';
import type { Model } from './model.js';

export type Handler<E> = (event: E) => void | Promise<void>;

export interface ActionRegistration {
  readonly schema: z.ZodType | undefined;
  readonly handler: Handler<ActionEvent<unknown>>;
}

/** juju-log with a stderr fallback; never throws (logging must not fail a hook). */
export class Logger {
  constructor(
    private readonly backend: ModelBackend,
    private readonly stderr: (line: string) => void,
  ) {}

  async log(level: LogLevel, message: string): Promise<void> {
    try {
      await this.backend.jujuLog(level, message);
    } catch (err) {
      this.stderr(`${level}: ${message}`);
      this.stderr(`(juju-log failed: ${(err as Error).message})`);
    }
  }
  debug(message: string): Promise<void> {
    return this.log('DEBUG', message);
  }
  info(message: string): Promise<void> {
    return this.log('INFO', message);
  }
  warning(message: string): Promise<void> {
    return this.log('WARNING', message);
  }
  error(message: string): Promise<void> {
    return this.log('ERROR', message);
  }
}

export class Framework {
  readonly log: Logger;
  /** The hook memo (src/ops/memo.ts): allow() records this run for replay. */
  readonly memo = new MemoControl();
  private readonly observers = new Map<string, Handler<AnyEvent>[]>();
  private readonly actions = new Map<string, ActionRegistration>();

  constructor(
    readonly model: Model,
    readonly backend: ModelBackend,
    readonly context: JujuContext,
    readonly spec: CharmSpec,
    stderr: (line: string) => void,
  ) {
    this.log = new Logger(backend, stderr);
  }

  /**
   * Run `handler` when `name` is emitted: a hook ('config-changed'), a relation event
   * ('juju-info-relation-joined') or 'collect-status'. Handlers run in the order they were
   * observed. The name is typed, so a misspelled hook does not compile; a relation event must
   * name an endpoint of metadata.yaml, or registration throws (it would never fire).
   */
  observe<N extends ObservableEvent>(name: N, handler: Handler<EventFor<N>>): void {
    const relation = RELATION_EVENT_RE.exec(name);
    const known =
      name === 'collect-status' ||
      isLifecycleHook(name) ||
      (relation !== null && relation[1] !== undefined && Object.hasOwn(this.spec.endpoints, relation[1]));
    if (!known) {
      const endpoints = Object.keys(this.spec.endpoints).join(', ') || 'none';
      throw new RegistrationError(
        relation !== null
          ? `cannot observe ${name}: ${relation[1] ?? ''} is not an endpoint of ${this.spec.name} (endpoints: ${endpoints})`
          : `cannot observe ${name}: not a hook, a relation event or collect-status (use observeCustom)`,
      );
    }
    this.addObserver(name, handler as Handler<AnyEvent>);
  }

  /** Run `handler` when the charm emits the custom event `name` (emitCustom); Juju's event names are refused. */
  observeCustom<D = unknown>(name: string, handler: Handler<CustomEvent<D>>): void {
    if (name === 'collect-status' || isLifecycleHook(name) || RELATION_EVENT_RE.test(name))
      throw new RegistrationError(`cannot observe ${name} as a custom event: Juju emits it (use observe)`);
    this.addObserver(name, handler as Handler<AnyEvent>);
  }

  private addObserver(name: string, handler: Handler<AnyEvent>): void {
    const list = this.observers.get(name) ?? [];
    list.push(handler);
    this.observers.set(name, list);
  }

  /**
   * Handle action `name`, which actions.yaml must declare. Its params (action-get) are validated
   * with `schema` first; invalid params fail the action naming the param, and the handler is not
   * called.
   */
  observeAction<S extends z.ZodType>(name: string, schema: S, handler: Handler<ActionEvent<z.output<S>>>): void {
    if (!this.spec.actions.includes(name)) {
      throw new RegistrationError(
        `cannot observe action ${name}: actions.yaml does not declare it (actions: ${this.spec.actions.join(', ') || 'none'})`,
      );
    }
    if (this.actions.has(name)) throw new RegistrationError(`action ${name} is observed twice`);
    this.actions.set(name, { schema, handler: handler as Handler<ActionEvent<unknown>> });
  }

  /** The registration for an action, if the charm observed it. */
  actionHandler(name: string): ActionRegistration | undefined {
    return this.actions.get(name);
  }

  hasObservers(name: string): boolean {
    return (this.observers.get(name)?.length ?? 0) > 0;
  }

  /** Run every observer of `event.name`, in order, awaiting each. */
  async emit(event: AnyEvent): Promise<void> {
    for (const handler of this.observers.get(event.name) ?? []) await handler(event);
  }

  /** Emit a charm-defined event. */
  emitCustom<D>(name: string, data: D): Promise<void> {
    const event: CustomEvent<D> = { kind: 'custom', name, data };
    return this.emit(event);
  }
}
