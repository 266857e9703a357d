/**
 * A small gnuflag-alike, enough to reject what Juju's hook tools reject: `--name=value`,
 * `--name value`, `-n value`, boolean `--flag` / `--flag=false`, `--` ends the flags, and
 * flags may come after positional arguments (Juju's commands allow interspersed flags).
 */
import { OpsError } from '../../errors.js';
export interface FlagSpec {
  readonly long: string;
  readonly short?: string;
  readonly bool?: boolean;
}

export class UsageError extends OpsError {
  override readonly name = 'UsageError';
}

export interface ParsedArgs {
  readonly flags: ReadonlyMap<string, string>;
  readonly positional: readonly string[];
}

const COMMON: readonly FlagSpec[] = [{ long: 'help', short: 'h', bool: true }];

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const all = [...specs, ...COMMON];
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const isLong = arg.startsWith('--');
    const body = arg.slice(isLong ? 2 : 1);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const spec = all.find((s) => (isLong ? s.long === name : s.short === name));
    if (!spec) throw new UsageError(`flag provided but not defined: ${arg.slice(0, (isLong ? 2 : 1) + name.length)}`);
    if (spec.bool) {
      const value = eq === -1 ? 'true' : body.slice(eq + 1);
      if (value !== 'true' && value !== 'false') {
        throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for flag ${isLong ? '--' : '-'}${name}`);
      }
      flags.set(spec.long, value);
      continue;
    }
    let value: string;
    if (eq !== -1) {
      value = body.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag needs an argument: ${arg}`);
      value = next;
      i++;
    }
    flags.set(spec.long, value);
  }
  return { flags, positional };
}
