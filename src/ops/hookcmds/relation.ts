import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

/** `endpoint:N`, the form of JUJU_RELATION_ID and relation-ids output. */
export const RELATION_ID_RE = /^([a-z][a-z0-9-]*):(\d+)$/;
export const RelationIdSchema = z.string().regex(RELATION_ID_RE, 'expected ENDPOINT:ID');

/** `relation-ids EP --format=json` */
export async function relationIds(run: Run, endpoint: string): Promise<string[]> {
  const { stdout } = await run(['relation-ids', endpoint, '--format=json']);
  return parseJsonOutput('relation-ids', stdout, z.array(RelationIdSchema).nullable()) ?? [];
}

/** `relation-list -r EP:ID --format=json`: the remote units. */
export async function relationList(run: Run, relationId: string): Promise<string[]> {
  const { stdout } = await run(['relation-list', '-r', relationId, '--format=json']);
  return parseJsonOutput('relation-list', stdout, z.array(z.string()).nullable()) ?? [];
}

/** `relation-get --format=json -r EP:ID - UNIT`: all of UNIT's settings. */
export async function relationGet(run: Run, relationId: string, unit: string): Promise<Record<string, string>> {
  const { stdout } = await run(['relation-get', '--format=json', '-r', relationId, '-', unit]);
  return parseJsonOutput('relation-get', stdout, z.record(z.string(), z.string()).nullable()) ?? {};
}
