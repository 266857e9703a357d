import type { SettableStatusName, StatusName } from './hookcmds/status.js';
import { InvalidArgumentError } from './errors.js';
import { SETTABLE_STATUSES } from './hookcmds/status.js';

export type { SettableStatusName, StatusName };

/** A unit status: `{name: 'blocked', message: 'vrfs: …'}`. */
export interface Status {
  readonly name: StatusName;
  readonly message: string;
}
/** A status the charm may set. */
export interface SettableStatus extends Status {
  readonly name: SettableStatusName;
}

export const Status = {
  active: (message = ''): SettableStatus => ({ name: 'active', message }),
  blocked: (message: string): SettableStatus => ({ name: 'blocked', message }),
  maintenance: (message: string): SettableStatus => ({ name: 'maintenance', message }),
  waiting: (message: string): SettableStatus => ({ name: 'waiting', message }),
} as const;

/** ops' order: error > blocked > maintenance > waiting > active > unknown. */
export const STATUS_PRIORITY: readonly StatusName[] = [
  'error',
  'blocked',
  'maintenance',
  'waiting',
  'active',
  'unknown',
];

function rank(name: StatusName): number {
  const i = STATUS_PRIORITY.indexOf(name);
  return i < 0 ? STATUS_PRIORITY.length : i;
}

/** The status that wins; the first added wins a tie. Undefined for an empty list. */
export function highestPriority<S extends Status>(statuses: readonly S[]): S | undefined {
  let best: S | undefined;
  for (const s of statuses) if (best === undefined || rank(s.name) < rank(best.name)) best = s;
  return best;
}

export function assertSettable(s: Status): asserts s is SettableStatus {
  if (!(SETTABLE_STATUSES as readonly string[]).includes(s.name)) {
    throw new InvalidArgumentError(
      `status ${JSON.stringify(s.name)} cannot be set by a charm (use one of ${SETTABLE_STATUSES.join(', ')})`,
    );
  }
}
