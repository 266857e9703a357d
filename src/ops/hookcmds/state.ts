import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

/** `state-get --format=json`: the unit's server-side key/value state. */
export async function stateGet(run: Run): Promise<Record<string, string>> {
  const { stdout } = await run(['state-get', '--format=json']);
  return parseJsonOutput('state-get', stdout, z.record(z.string(), z.string()).nullable()) ?? {};
}

/** `state-set --file -` with the pairs as a JSON (hence YAML) map on stdin. */
export async function stateSet(run: Run, values: Readonly<Record<string, string>>): Promise<void> {
  await run(['state-set', '--file', '-'], JSON.stringify(values));
}
