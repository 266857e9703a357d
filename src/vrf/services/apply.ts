/**
 * Runs the services plan's steps (plan.ts ServiceStep), in order: drop-ins written atomically
 * (persist.ts) or removed, then one `systemctl daemon-reload`, then the restarts, consecutive
 * ones in one `systemctl try-restart` (src/vrf/systemctl.ts). Stops at the first failure: every
 * step before it ran, none after it.
 */
import { rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProcOptions } from '../ip.js';
import { atomicWrite, removeFile, under } from '../persist.js';
import { daemonReload, tryRestart } from '../systemctl.js';
import type { ServiceStep } from './plan.js';

/** A step with its human command, as plan and apply print it. */
export interface PlannedServiceStep {
  readonly step: ServiceStep;
  readonly command: string;
}

export interface ServiceApplyFailure {
  /** Index into the steps. */
  readonly index: number;
  readonly command: string;
  readonly error: string;
}

export interface ServicesApplyResult {
  readonly applied: readonly PlannedServiceStep[];
  readonly failure: ServiceApplyFailure | null;
}

/** What a step does, as one line (`plan` and dry runs print it). */
export function renderServiceStep(s: ServiceStep): string {
  switch (s.kind) {
    case 'write-dropin':
      return `write /${s.path}`;
    case 'remove-dropin':
      return `remove /${s.path}${s.removeDir ? ` and its directory /${dirname(s.path)}` : ''}`;
    case 'daemon-reload':
      return 'systemctl daemon-reload';
    case 'try-restart':
      return `systemctl try-restart -- ${s.unit}  # ${s.reason}`;
  }
}

export const plannedServices = (steps: readonly ServiceStep[]): PlannedServiceStep[] =>
  steps.map((step) => ({ step, command: renderServiceStep(step) }));

export interface ServiceApplyOptions extends ProcOptions {
  readonly root?: string;
}

async function removeDropIn(root: string | undefined, path: string, removeDir: boolean): Promise<void> {
  await removeFile(under(root, path));
  if (!removeDir) return;
  try {
    await rmdir(under(root, dirname(path)));
  } catch (e) {
    // Something else put a file there meanwhile: it stays, with its directory.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

export async function applyServiceSteps(
  steps: readonly ServiceStep[],
  o: ServiceApplyOptions = {},
): Promise<ServicesApplyResult> {
  const planned = plannedServices(steps);
  const applied: PlannedServiceStep[] = [];
  for (let i = 0; i < steps.length;) {
    const s = steps[i]!;
    // Consecutive restarts are one systemctl process.
    let n = 1;
    if (s.kind === 'try-restart') while (steps[i + n]?.kind === 'try-restart') n++;
    try {
      switch (s.kind) {
        case 'write-dropin':
          await atomicWrite(under(o.root, s.path), s.content);
          break;
        case 'remove-dropin':
          await removeDropIn(o.root, s.path, s.removeDir);
          break;
        case 'daemon-reload':
          await daemonReload(o);
          break;
        case 'try-restart':
          await tryRestart(
            steps.slice(i, i + n).flatMap((r) => (r.kind === 'try-restart' ? [r.unit] : [])),
            o,
          );
          break;
      }
    } catch (e) {
      return { applied, failure: { index: i, command: planned[i]!.command, error: (e as Error).message } };
    }
    applied.push(...planned.slice(i, i + n));
    i += n;
  }
  return { applied, failure: null };
}
