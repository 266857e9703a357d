import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

/** A charm option value as config-get reports it. */
export const ConfigValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type ConfigValue = z.infer<typeof ConfigValueSchema>;
export const ConfigMapSchema = z.record(z.string(), ConfigValueSchema);

/** `config-get --format=json`: every option, defaults included. */
export async function configGet(run: Run): Promise<Record<string, ConfigValue>> {
  const { stdout } = await run(['config-get', '--format=json']);
  return parseJsonOutput('config-get', stdout, ConfigMapSchema.nullable()) ?? {};
}
