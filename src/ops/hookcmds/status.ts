import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

/** Statuses a charm may set (`status-set`). */
export const SETTABLE_STATUSES = ['active', 'blocked', 'maintenance', 'waiting'] as const;
export type SettableStatusName = (typeof SETTABLE_STATUSES)[number];
/** Statuses Juju may report (`status-get`). */
export const STATUS_NAMES = ['active', 'blocked', 'maintenance', 'waiting', 'error', 'unknown', 'terminated'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

export const StatusGetSchema = z.object({
  status: z.enum(STATUS_NAMES),
  message: z
    .string()
    .nullable()
    .default('')
    .transform((m) => m ?? ''),
  'status-data': z
    .record(z.string(), z.unknown())
    .nullable()
    .default({})
    .transform((d) => d ?? {}),
});
export type StatusGetOutput = z.output<typeof StatusGetSchema>;

/** `status-set --application=false STATUS -- MSG` */
export async function statusSet(run: Run, status: SettableStatusName, message: string): Promise<void> {
  await run(['status-set', '--application=false', status, '--', message]);
}

/** `status-get --include-data --format=json` (the unit's status). */
export async function statusGet(run: Run): Promise<StatusGetOutput> {
  const { stdout } = await run(['status-get', '--include-data', '--format=json']);
  return parseJsonOutput('status-get', stdout, StatusGetSchema);
}

/** `application-version-set -- V` */
export async function applicationVersionSet(run: Run, version: string): Promise<void> {
  await run(['application-version-set', '--', version]);
}
