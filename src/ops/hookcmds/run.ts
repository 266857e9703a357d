import type { z } from 'zod';
import { HookToolOutputError } from '../errors.js';

/**
 * How a hook command is run. The backend supplies one that already turned
 * failures into typed errors; tests supply a fake. Pure functions on top.
 */
export type Run = (argv: readonly string[], stdin?: string) => Promise<{ stdout: string }>;

/** Parse a tool's JSON stdout through a zod schema, or throw HookToolOutputError. */
export function parseJsonOutput<S extends z.ZodType>(tool: string, stdout: string, schema: S): z.output<S> {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (err) {
    const shown = stdout.length > 200 ? `${stdout.slice(0, 200)}…` : stdout;
    throw new HookToolOutputError(tool, `invalid JSON ${JSON.stringify(shown)}`, { cause: err });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    throw new HookToolOutputError(tool, detail, { cause: parsed.error });
  }
  return parsed.data;
}
