/**
 * The backend (ops' `_ModelBackend`): runs hook tools through a RawRun and
 * turns every failure into a typed error, then offers one method per tool.
 */
import { HookToolFailedError, HookToolMissingError, ModelError, RelationNotFoundError } from './errors.js';
import * as cmd from './hookcmds/index.js';
import type { RawRun } from './runner.js';

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function relationArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('-r');
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Wrap a RawRun so that failures surface as ModelError subclasses. */
export function classifyingRun(raw: RawRun): cmd.Run {
  return async (argv, stdin) => {
    const tool = argv[0] ?? '(empty argv)';
    let result;
    try {
      result = await raw(argv, stdin);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw new HookToolMissingError(tool, { cause: err });
      throw new ModelError(`could not run hook tool ${tool}`, { cause: err });
    }
    if (result.exitCode !== 0 || result.signal !== undefined) {
      const failed = new HookToolFailedError(tool, result.exitCode, result.stderr, {
        ...(result.signal !== undefined ? { signal: result.signal } : {}),
      });
      const rel = relationArg(argv);
      if (rel !== undefined && /relation not found/i.test(result.stderr)) {
        throw new RelationNotFoundError(rel, { cause: failed });
      }
      throw failed;
    }
    return { stdout: result.stdout };
  };
}

export class ModelBackend {
  readonly run: cmd.Run;

  constructor(raw: RawRun) {
    this.run = classifyingRun(raw);
  }

  configGet() {
    return cmd.configGet(this.run);
  }
  networkGet(binding: string, relationId?: string) {
    return cmd.networkGet(this.run, binding, relationId);
  }
  statusSet(status: cmd.SettableStatusName, message: string) {
    return cmd.statusSet(this.run, status, message);
  }
  statusGet() {
    return cmd.statusGet(this.run);
  }
  applicationVersionSet(version: string) {
    return cmd.applicationVersionSet(this.run, version);
  }
  jujuLog(level: cmd.LogLevel, message: string) {
    return cmd.jujuLog(this.run, level, message);
  }
  isLeader() {
    return cmd.isLeader(this.run);
  }
  actionGet() {
    return cmd.actionGet(this.run);
  }
  actionSet(results: cmd.ActionResults) {
    return cmd.actionSet(this.run, results);
  }
  actionLog(message: string) {
    return cmd.actionLog(this.run, message);
  }
  actionFail(message: string) {
    return cmd.actionFail(this.run, message);
  }
  relationIds(endpoint: string) {
    return cmd.relationIds(this.run, endpoint);
  }
  relationList(relationId: string) {
    return cmd.relationList(this.run, relationId);
  }
  relationGet(relationId: string, unit: string) {
    return cmd.relationGet(this.run, relationId, unit);
  }
  stateGet() {
    return cmd.stateGet(this.run);
  }
  stateSet(values: Readonly<Record<string, string>>) {
    return cmd.stateSet(this.run, values);
  }
}
