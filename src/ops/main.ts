/**
 * The entry point (ops' `main`): one dispatch = parse the environment,
 * resolve the event, construct the charm, emit, collect status, commit.
 */
import type { z } from 'zod';
import { ModelBackend } from './backend.js';
import type { CharmClass } from './charm-base.js';
import { loadCharmSpec, type CharmSpec } from './charmspec.js';
import { parseJujuContext, type JujuContext } from './context.js';
import { describeError, JujuContextError, ModelError, UnknownEventError } from './errors.js';
import type { ActionEvent, CollectStatusEvent, DispatchTarget, RelationEvent } from './events.js';
import { resolveDispatchPath } from './events.js';
import { Framework } from './framework.js';
import type { ActionResults } from './hookcmds/action.js';
import { removeMemo, unrecordableCall, writeMemo, type ToolCall } from './memo.js';
import { Model } from './model.js';
import { processRunner, type RawRun } from './runner.js';
import { highestPriority, type Status } from './status.js';
import { isUnitStatusSet, JUJU_SETS_STATUS, JUJU_SETS_STATUS_AFTER, StatusMemory } from './status-memory.js';

export interface DispatchOptions {
  /** The hook's environment (JUJU_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How hook tools are run (the process runner, or a fake). */
  readonly run: RawRun;
  /** The charm's metadata; main() reads it from the charm dir when absent. */
  readonly spec: CharmSpec;
  /** Where lines go when juju-log itself cannot be used. */
  readonly stderr?: (line: string) => void;
  /** The hook memo (src/ops/memo.ts); absent: off. */
  readonly memo?: MemoOptions;
  /** Where the unit's last status is kept (src/ops/status-memory.ts); absent or null: every status-set runs. */
  readonly statusMemory?: string | null;
}

export interface MemoOptions {
  /** This unit's record; null: off. Deleted when a dispatch starts, written after a recordable run. */
  readonly path: string | null;
  /** The hooks whose runs may be recorded (when the charm allows it). */
  readonly hooks: readonly string[];
  /** Records an earlier charm may have left in another form: deleted with the record. */
  readonly obsolete?: readonly string[];
  /** Why the fast path (dispatch) did not answer this hook, for the DEBUG line. */
  readonly missed?: string;
}

function formatParamIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length > 0 ? ` in ${JSON.stringify(issue.path.map(String).join('.'))}` : '';
    return `unknown parameter${issue.keys.length > 1 ? 's' : ''}${where}: ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(params)';
  return `invalid parameter ${JSON.stringify(field)}: ${issue.message}`;
}

async function fatal(
  framework: Framework,
  where: string,
  err: unknown,
  target: DispatchTarget | undefined,
  stderr: (line: string) => void,
): Promise<number> {
  const line = `${where}: ${describeError(err)}`;
  stderr(line);
  // Our own typed errors say all there is to say; a stack only helps for bugs.
  const expected = err instanceof ModelError || err instanceof UnknownEventError || err instanceof JujuContextError;
  if (!expected && err instanceof Error && err.stack) stderr(err.stack);
  await framework.log.error(line);
  if (target?.kind === 'action') {
    try {
      await framework.backend.actionFail(line);
    } catch (failErr) {
      stderr(`action-fail failed: ${describeError(failErr)}`);
    }
  }
  return 1;
}

function buildRelationEvent(
  framework: Framework,
  ctx: JujuContext,
  target: DispatchTarget & { kind: 'relation' },
): RelationEvent {
  if (ctx.relationId === undefined) {
    throw new Error(`${target.name} dispatched without JUJU_RELATION_ID`);
  }
  if (ctx.relationId.endpoint !== target.endpoint) {
    throw new Error(`${target.name} dispatched with JUJU_RELATION_ID ${ctx.relationId.id} of another endpoint`);
  }
  const relation = framework.model.relation(ctx.relationId.id, ctx.remoteApp);
  return {
    kind: 'relation',
    name: target.name,
    relation,
    ...(ctx.remoteUnit !== undefined ? { remoteUnit: ctx.remoteUnit } : {}),
    ...(ctx.remoteApp !== undefined ? { remoteApp: ctx.remoteApp } : {}),
    ...(ctx.departingUnit !== undefined ? { departingUnit: ctx.departingUnit } : {}),
  };
}

/** Run the action: params → schema → handler. Invalid params fail the action (exit stays 0). */
async function runAction(framework: Framework, ctx: JujuContext, name: string): Promise<void> {
  const backend = framework.backend;
  const reg = framework.actionHandler(name);
  if (reg === undefined) {
    const msg = `action ${name} is declared but this charm does not handle it`;
    await framework.log.error(msg);
    await backend.actionFail(msg);
    return;
  }
  const raw = await backend.actionGet();
  let params: unknown = raw;
  if (reg.schema !== undefined) {
    const parsed = reg.schema.safeParse(raw);
    if (!parsed.success) {
      const msg = `action ${name}: ${parsed.error.issues.map(formatParamIssue).join('; ')}`;
      await framework.log.error(msg);
      await backend.actionFail(msg);
      return;
    }
    params = parsed.data;
  }
  const event: ActionEvent<unknown> = {
    kind: 'action',
    name,
    ...(ctx.actionUuid !== undefined ? { id: ctx.actionUuid } : {}),
    params,
    setResults: (results: ActionResults) => backend.actionSet(results),
    log: (message: string) => backend.actionLog(message),
    fail: (message: string) => backend.actionFail(message),
  };
  await reg.handler(event);
}

async function collectStatus(framework: Framework): Promise<void> {
  const statuses: Status[] = [];
  const event: CollectStatusEvent = {
    kind: 'collect-status',
    name: 'collect-status',
    addStatus: (s) => {
      statuses.push(s);
    },
  };
  await framework.emit(event);
  const best = highestPriority(statuses);
  if (best !== undefined) await framework.model.unit.setStatus(best);
}

/**
 * One dispatch with everything injected. Returns the process exit code:
 * 0 on success (an action that failed cleanly is still 0), 1 on an unknown
 * event, bad environment, or an uncaught error — each logged via juju-log.
 */
export async function dispatch(CharmClass: CharmClass, opts: DispatchOptions): Promise<number> {
  const stderr = opts.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  let memory = opts.statusMemory ? new StatusMemory(opts.statusMemory) : null;
  await memory?.load();
  // Set once the dispatch target is known: whether a status-set equal to the last one may be skipped.
  let skipSameStatus = false;
  // Every hook-tool call is kept, for the memo.
  const calls: ToolCall[] = [];
  const backend = new ModelBackend(async (argv, stdin) => {
    const m = isUnitStatusSet(argv) ? memory : null;
    if (m !== null && skipSameStatus && m.same(argv)) return { exitCode: 0, stdout: '', stderr: '' };
    // Forgotten before the call, remembered after it: a run killed in between leaves no memory, so
    // the next status-set runs (remembering the old status would skip setting it back).
    if (m !== null) await m.forget().catch((e: Error) => stderr(`cannot forget the unit's status: ${e.message}`));
    const r = await opts.run(argv, stdin);
    calls.push({ ...r, argv: [...argv], ...(stdin !== undefined ? { stdin } : {}) });
    if (m !== null && r.exitCode === 0)
      await m.remember(argv).catch((e: Error) => stderr(`cannot keep the unit's status: ${e.message}`));
    return r;
  });
  let ctx: JujuContext;
  try {
    ctx = parseJujuContext(opts.env);
  } catch (err) {
    const line = describeError(err);
    stderr(line);
    try {
      await backend.jujuLog('ERROR', line);
    } catch {
      // already on stderr
    }
    return 1;
  }
  const model = new Model(backend, ctx, opts.spec);
  const framework = new Framework(model, backend, ctx, opts.spec, stderr);

  let target: DispatchTarget;
  try {
    target = resolveDispatchPath(ctx.dispatchPath, opts.spec);
  } catch (err) {
    const isAction = ctx.dispatchPath.replace(/^\.\//, '').startsWith('actions/');
    return fatal(framework, 'cannot dispatch', err, isAction ? { kind: 'action', name: '' } : undefined, stderr);
  }

  if (target.kind === 'unknown') {
    // ops: "Event X not defined for <charm>." at DEBUG, and the hook succeeds.
    await framework.log.debug(
      `event ${target.name} not defined for ${opts.spec.name} (${target.reason}): nothing to do`,
    );
    return 0;
  }

  try {
    new CharmClass(framework);
  } catch (err) {
    return fatal(framework, `charm construction failed during ${target.name}`, err, target, stderr);
  }

  // Juju sets the status itself around install, start, stop and remove: there every status-set runs,
  // and after stop and remove Juju's own status replaces the charm's, so nothing is kept.
  skipSameStatus = !(target.kind === 'hook' && JUJU_SETS_STATUS.has(target.name));
  if (target.kind === 'hook' && JUJU_SETS_STATUS_AFTER.has(target.name)) {
    await memory?.forget().catch((e: Error) => stderr(`cannot forget the unit's status: ${e.message}`));
    memory = null;
  }
  const memo = opts.memo?.path ? { ...opts.memo, path: opts.memo.path } : null;
  // A record never survives a full run that might change something.
  if (memo) {
    for (const p of [memo.path, ...(memo.obsolete ?? [])]) {
      try {
        removeMemo(p);
      } catch (e) {
        stderr(`cannot remove the hook memo ${p}: ${(e as Error).message}`);
      }
    }
  }

  try {
    const why =
      memo?.missed !== undefined && target.kind === 'hook' && memo.hooks.includes(target.name)
        ? ` (in full: ${memo.missed})`
        : '';
    await framework.log.debug(`emitting ${target.kind === 'action' ? 'action' : 'event'} ${target.name}${why}`);
    switch (target.kind) {
      case 'hook':
        await framework.emit({ kind: 'hook', name: target.name });
        break;
      case 'relation':
        await framework.emit(buildRelationEvent(framework, ctx, target));
        break;
      case 'action':
        await runAction(framework, ctx, target.name);
        break;
    }
    await collectStatus(framework);
    await model.stored.commit();
  } catch (err) {
    return fatal(
      framework,
      `uncaught error in ${target.kind === 'action' ? 'action' : 'hook'} ${target.name}`,
      err,
      target,
      stderr,
    );
  }
  const allowed = framework.memo.allowed;
  const unrecordable = unrecordableCall(calls);
  if (memo && allowed && target.kind === 'hook' && memo.hooks.includes(target.name) && unrecordable === null) {
    try {
      const r = await allowed.record({ hook: target.name, env: opts.env });
      if ('text' in r) writeMemo(memo.path, r.text);
      else await framework.log.debug(`no hook memo: ${r.unrecordable}`);
    } catch (e) {
      stderr(`cannot write the hook memo ${memo.path}: ${(e as Error).message}`);
    }
  }
  return 0;
}

export interface MainOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly run?: RawRun;
  readonly spec?: CharmSpec;
  readonly stderr?: (line: string) => void;
  /** Set process.exitCode (default true). */
  readonly setExitCode?: boolean;
  readonly memo?: MemoOptions;
  readonly statusMemory?: string | null;
}

/**
 * The charm's entry point: `main(MyCharm)`. Reads metadata from
 * JUJU_CHARM_DIR (or the cwd), runs hook tools as processes, and sets
 * process.exitCode. Everything is injectable for the harnesses.
 */
export async function main(CharmClass: CharmClass, opts: MainOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const stderr = opts.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  const run = opts.run ?? processRunner();
  let spec = opts.spec;
  if (spec === undefined) {
    const dir = env['JUJU_CHARM_DIR'] || process.cwd();
    try {
      spec = await loadCharmSpec(dir);
    } catch (err) {
      const line = `cannot load charm metadata from ${dir}: ${describeError(err)}`;
      stderr(line);
      try {
        await new ModelBackend(run).jujuLog('ERROR', line);
      } catch {
        // already on stderr
      }
      if (opts.setExitCode !== false) process.exitCode = 1;
      return 1;
    }
  }
  let code: number;
  try {
    code = await dispatch(CharmClass, {
      env,
      run,
      spec,
      stderr,
      ...(opts.memo !== undefined ? { memo: opts.memo } : {}),
      ...(opts.statusMemory !== undefined ? { statusMemory: opts.statusMemory } : {}),
    });
  } catch (err) {
    // dispatch handles its own errors; this is the last line of defence.
    stderr(`dispatch failed: ${describeError(err)}`);
    code = 1;
  }
  if (opts.setExitCode !== false) process.exitCode = code;
  return code;
}
