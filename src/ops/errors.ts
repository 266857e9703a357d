/**
 * Typed errors of the ops port. Every failure that crosses the backend is one
 * of these, so the framework can log a precise line instead of a stack trace.
 */
import { types } from 'node:util';

/**
 * The base of every error the ops port throws. A subclass only names itself
 * (`override name = 'SpawnError'`) and adds its own fields; message and cause go through here.
 */
export class OpsError extends Error {
  override name = 'OpsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Something went wrong talking to Juju (mirrors ops.ModelError). */
export class ModelError extends OpsError {
  override name = 'ModelError';
}

/** The relation named by `-r ENDPOINT:ID` does not exist (any more). */
export class RelationNotFoundError extends ModelError {
  override name = 'RelationNotFoundError';
  constructor(
    readonly relation: string,
    options?: { cause?: unknown },
  ) {
    super(`relation ${relation} not found`, options);
  }
}

/** The hook tool is not on PATH (spawn failed with ENOENT). */
export class HookToolMissingError extends ModelError {
  override name = 'HookToolMissingError';
  constructor(
    readonly tool: string,
    options?: { cause?: unknown },
  ) {
    super(`hook tool ${tool} not found on PATH (is this running inside a Juju hook?)`, options);
  }
}

/** The hook tool ran and exited non-zero (or was killed by a signal). */
export class HookToolFailedError extends ModelError {
  override name = 'HookToolFailedError';
  constructor(
    readonly tool: string,
    readonly exitCode: number,
    readonly stderr: string,
    options?: { cause?: unknown; signal?: string },
  ) {
    const how = options?.signal !== undefined ? `was killed by ${options.signal}` : `exited with status ${exitCode}`;
    const detail = stderr.trim();
    super(`hook tool ${tool} ${how}${detail ? `: ${detail}` : ''}`, options);
  }
}

/** The hook tool printed something that is not the JSON its documentation promises. */
export class HookToolOutputError extends ModelError {
  override name = 'HookToolOutputError';
  constructor(
    readonly tool: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`unexpected output from ${tool}: ${detail}`, options);
  }
}

/** A value the charm passed in is invalid for Juju (bad action-set key, unsettable status, …). */
export class InvalidArgumentError extends ModelError {
  override name = 'InvalidArgumentError';
}

/** The JUJU_* environment is missing or malformed. */
export class JujuContextError extends OpsError {
  override name = 'JujuContextError';
}

/** The charm observes an event or action its metadata does not declare, or observes an action twice. */
export class RegistrationError extends OpsError {
  override name = 'RegistrationError';
}

/** JUJU_DISPATCH_PATH names an event this charm does not know. */
export class UnknownEventError extends OpsError {
  override name = 'UnknownEventError';
  constructor(
    readonly dispatchPath: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`unknown event ${JSON.stringify(dispatchPath)}: ${reason}`, options);
  }
}

/** A thrown non-Error as text: a string as is, anything else as JSON (or its type when it has none). */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/** One line per error in the cause chain: `Name: message` joined with `<- caused by: `. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && !seen.has(cur) && parts.length < 8) {
    seen.add(cur);
    // isNativeError: also an Error from another realm (a vm context), which is not instanceof Error.
    if (cur instanceof Error || types.isNativeError(cur)) {
      parts.push(`${cur.name}: ${cur.message}`);
      cur = cur.cause;
    } else {
      parts.push(describeValue(cur));
      break;
    }
  }
  return parts.join(' <- caused by: ');
}
