/**
 * The unit's last status as this charm set it, kept on the machine, so that a
 * hook sets its status only when it changed: each `status-set` is a round trip
 * to the controller, and Juju keeps the last one anyway.
 *
 * Juju sets the workload status itself around some hooks (its
 * worker/uniter/operation/runhook.go: beforeHook sets "installing charm
 * software" before install and a maintenance status before stop and remove,
 * afterHook sets "unknown" after a start that set none, and its own statuses
 * after stop and remove). In those hooks every status-set is run, whatever was
 * set before, and after stop and remove the memory is forgotten.
 *
 * The file holds the argv of the last unit status-set that succeeded; it is
 * written atomically after that call. A lost or unreadable file only costs one
 * status-set more.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** The hooks around which Juju sets the unit's workload status itself. */
export const JUJU_SETS_STATUS: ReadonlySet<string> = new Set(['install', 'start', 'stop', 'remove']);
/** The hooks after which Juju's own status replaces the charm's. */
export const JUJU_SETS_STATUS_AFTER: ReadonlySet<string> = new Set(['stop', 'remove']);

const MemorySchema = z.object({ argv: z.array(z.string()) });

/** `status-set --application=false …`: the unit's own status (an application status is never skipped). */
export function isUnitStatusSet(argv: readonly string[]): boolean {
  return argv[0] === 'status-set' && argv[1] === '--application=false';
}

export class StatusMemory {
  private last: readonly string[] | null = null;
  constructor(readonly path: string) {}

  /** Reads the file (absent or unreadable: nothing remembered). */
  async load(): Promise<void> {
    try {
      const parsed = MemorySchema.safeParse(JSON.parse(await readFile(this.path, 'utf8')));
      this.last = parsed.success ? parsed.data.argv : null;
    } catch {
      this.last = null;
    }
  }

  /** Whether `argv` would set exactly the status set last. */
  same(argv: readonly string[]): boolean {
    return this.last !== null && this.last.length === argv.length && this.last.every((a, i) => a === argv[i]);
  }

  /** After a status-set that succeeded. */
  async remember(argv: readonly string[]): Promise<void> {
    this.last = [...argv];
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify({ argv: this.last })}\n`, { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async forget(): Promise<void> {
    this.last = null;
    await rm(this.path, { force: true });
  }
}
