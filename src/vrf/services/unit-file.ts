/**
 * A unit's own `ExecStart=` lines, as written in its files: the fragment, then its drop-ins in
 * the order systemd applies them (`systemctl show -p FragmentPath -p DropInPaths`), with
 * vrf-host's own drop-in left out. The lines are kept as text, not as the argv systemd
 * expanded (`systemctl show -p ExecStart` prints argv with specifiers and quoting resolved
 * and cannot be written back): re-listed verbatim in vrf-host's drop-in, systemd expands
 * `%i`, `$VAR` and quotes exactly as it did in the unit's own file.
 */
import { VrfError } from '../errors.js';

export class UnitFileError extends VrfError {
  override name = 'UnitFileError';
}

export interface UnitFileText {
  /** Absolute path, as systemd reports it. */
  readonly path: string;
  readonly text: string;
}

/**
 * The logical lines of a unit file: comments dropped, backslash-continued lines joined
 * (systemd replaces the backslash and newline by a space, and skips comment lines inside a
 * continuation).
 */
export function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (pending !== null && (trimmed.startsWith('#') || trimmed.startsWith(';'))) continue;
    if (pending === null && (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';'))) continue;
    const joined: string = pending === null ? trimmed : `${pending} ${trimmed}`.trim();
    if (joined.endsWith('\\')) {
      pending = joined.slice(0, -1).trimEnd();
      continue;
    }
    pending = null;
    out.push(joined);
  }
  if (pending !== null) out.push(pending);
  return out;
}

/**
 * Every setting `key=` of section `section` across `files` in order, with systemd's list
 * semantics: an empty assignment resets the list.
 */
export function listSetting(files: readonly UnitFileText[], section: string, key: string): string[] {
  let values: string[] = [];
  for (const f of files) {
    let current = '';
    for (const line of logicalLines(f.text)) {
      const sec = /^\[([^\]]+)\]$/.exec(line);
      if (sec) {
        current = sec[1] ?? '';
        continue;
      }
      if (current !== section) continue;
      const eq = line.indexOf('=');
      if (eq < 0 || line.slice(0, eq).trim() !== key) continue;
      const value = line.slice(eq + 1).trim();
      values = value === '' ? [] : [...values, value];
    }
  }
  return values;
}

/** The unit's own ExecStart lines: every file but `ownDropIn` (vrf-host's, absolute path). */
export function ownExecStart(files: readonly UnitFileText[], ownDropIn: string): string[] {
  return listSetting(
    files.filter((f) => f.path !== ownDropIn),
    'Service',
    'ExecStart',
  );
}
