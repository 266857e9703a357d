import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

/** `is-leader --format=json` */
export async function isLeader(run: Run): Promise<boolean> {
  const { stdout } = await run(['is-leader', '--format=json']);
  return parseJsonOutput('is-leader', stdout, z.boolean());
}
