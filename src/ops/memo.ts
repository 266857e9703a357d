/**
 * The hook memo, as ops sees it: a fast path for a hook that, most of the time, only reads and
 * reports (update-status runs every 5 minutes on every unit of a cloud).
 *
 * A full run of a memoizable hook that changed nothing may leave a record; the next run of that
 * hook is answered from it before the charm loads (for vrf-host: by dispatch itself, in sh,
 * src/charm/memo.sh), without a single hook tool: its status is already set (Juju keeps it), and
 * what it read from Juju cannot have changed without Juju dispatching another hook first
 * (config-changed, upgrade-charm, a relation hook: DEVELOPERS.md cites where Juju decides).
 *
 * What ops does: every dispatch that runs in full deletes the record before it starts, so a run
 * that fails, changes things or is killed never leaves one behind; at the end of a run of a
 * memoizable hook that called only reads and its own status (RECORDABLE_TOOLS), the charm's
 * allowance (framework.memo.allow) makes the record's text, and ops writes it atomically. What a
 * record holds and how it is checked is the charm's: ops never reads it.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Hook tools a recordable run may have called: reads, its own unit status (kept by Juju, and set
 * only when it changed: src/ops/status-memory.ts) and its log. A run that called any other (a
 * write a replay would have to repeat, e.g. state-set) is not recorded.
 */
export const RECORDABLE_TOOLS: ReadonlySet<string> = new Set([
  'config-get',
  'network-get',
  'status-get',
  'is-leader',
  'leader-get',
  'relation-ids',
  'relation-list',
  'relation-get',
  'goal-state',
  'unit-get',
  'opened-ports',
  'state-get',
  'status-set',
  'juju-log',
]);

/** A hook-tool call as the full run made it. */
export interface ToolCall {
  readonly argv: readonly string[];
  readonly stdin?: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Why a run whose hook-tool calls were `calls` cannot be recorded, or null when it can. */
export function unrecordableCall(calls: readonly ToolCall[]): string | null {
  // More than one status means an interim one (e.g. Maintenance while applying): not a read-only run.
  if (calls.filter((c) => c.argv[0] === 'status-set').length > 1) return 'more than one status-set';
  for (const c of calls) {
    const tool = c.argv[0] ?? '';
    if (!RECORDABLE_TOOLS.has(tool)) return `${tool} is neither a read nor the unit's status`;
    if (tool === 'status-set' && c.exitCode !== 0) return 'status-set failed';
  }
  return null;
}

/** What the charm's record is made of: the hook, and the environment the run had. */
export interface RecordRequest {
  readonly hook: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The record's text, or why there is none (the run read something a record cannot hold). */
export type RecordText = { readonly text: string } | { readonly unrecordable: string };

/** What a charm says when its run may be recorded: how to make the record. */
export interface MemoAllowance {
  readonly record: (r: RecordRequest) => Promise<RecordText>;
}

/** Atomically, readable by root only (the environment is in it). */
export function writeMemo(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function removeMemo(path: string): void {
  rmSync(path, { force: true });
}

/**
 * framework.memo: a charm calls allow() when this run of a memoizable hook
 * changed nothing a replay would have to repeat. Without it nothing is recorded.
 */
export class MemoControl {
  private allowance: MemoAllowance | null = null;
  allow(a: MemoAllowance): void {
    this.allowance = a;
  }
  get allowed(): MemoAllowance | null {
    return this.allowance;
  }
}
