import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { parseJsonOutput, type Run } from './run.js';

/** One dotted segment of an action-set key. */
export const ACTION_KEY_SEGMENT_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** Top-level keys Juju keeps for itself. */
export const RESERVED_ACTION_KEYS: readonly string[] = ['stdout', 'stderr', 'stdout-encoding', 'stderr-encoding'];

export type ActionResultValue = string | number | boolean | readonly unknown[] | ActionResults;
export interface ActionResults {
  readonly [key: string]: ActionResultValue;
}

/** A segment Juju accepts at any level of an action-set key (the top level included). */
export function isActionKeySegment(segment: string): boolean {
  return ACTION_KEY_SEGMENT_RE.test(segment) && !RESERVED_ACTION_KEYS.includes(segment);
}

/** Throw InvalidArgumentError unless `key` (dotted) is one Juju accepts. */
export function validateActionKey(key: string): void {
  const segments = key.split('.');
  for (const seg of segments) {
    if (!ACTION_KEY_SEGMENT_RE.test(seg)) {
      throw new InvalidArgumentError(
        `invalid action result key ${JSON.stringify(key)}: segment ${JSON.stringify(seg)}` +
          ` must be lowercase letters, digits and inner hyphens`,
      );
    }
  }
  if (RESERVED_ACTION_KEYS.includes(segments[0] ?? '')) {
    throw new InvalidArgumentError(
      `invalid action result key ${JSON.stringify(key)}: ${segments[0]} is reserved by Juju`,
    );
  }
}

/**
 * Flatten nested results into dotted keys (`{a: {b: 1}}` → `{'a.b': '1'}`),
 * validating each key. Arrays become JSON text. Duplicate keys
 * (`{a: {b: 1}, 'a.b': 2}`) are rejected.
 */
export function flattenActionResults(results: ActionResults): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (obj: ActionResults, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        walk(v as ActionResults, key);
        continue;
      }
      validateActionKey(key);
      if (Object.hasOwn(out, key)) throw new InvalidArgumentError(`duplicate action result key ${JSON.stringify(key)}`);
      if (v === null || v === undefined) {
        throw new InvalidArgumentError(`action result ${JSON.stringify(key)} has no value`);
      }
      out[key] = Array.isArray(v) ? JSON.stringify(v) : String(v);
    }
  };
  walk(results, '');
  return out;
}

/** `action-get --format=json`: the action's params (Juju has applied defaults). */
export async function actionGet(run: Run): Promise<Record<string, unknown>> {
  const { stdout } = await run(['action-get', '--format=json']);
  return parseJsonOutput('action-get', stdout, z.record(z.string(), z.unknown()).nullable()) ?? {};
}

/** `action-set k=v …` with nested results flattened. Validates before running. */
export async function actionSet(run: Run, results: ActionResults): Promise<void> {
  const flat = flattenActionResults(results);
  const pairs = Object.entries(flat).map(([k, v]) => `${k}=${v}`);
  if (pairs.length === 0) return;
  await run(['action-set', ...pairs]);
}

/** `action-log -- MSG` */
export async function actionLog(run: Run, message: string): Promise<void> {
  await run(['action-log', '--', message]);
}

/** `action-fail -- MSG` */
export async function actionFail(run: Run, message: string): Promise<void> {
  await run(['action-fail', '--', message]);
}
