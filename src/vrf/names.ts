/**
 * Name validation. Every VRF and interface name is checked here before it
 * reaches an `ip` argv or an `ip -batch` line (where `#` starts a comment,
 * quotes group words and whitespace splits them).
 */
import { RESERVED_VRF_NAMES } from './types.js';
import { VrfError } from './errors.js';

/** IFNAMSIZ is 16 including the NUL. */
export const IFNAME_MAX = 15;

export class NameError extends VrfError {
  override name = 'NameError';
}

/**
 * Words that `ip` may read as a keyword or an option where a name is expected.
 * Real interfaces are never called this; refusing them keeps argv unambiguous.
 */
const IP_WORDS: ReadonlySet<string> = new Set([
  'all',
  'any',
  'dev',
  'help',
  'name',
  'type',
  'master',
  'nomaster',
  'link',
  'up',
  'down',
  'vrf',
  'table',
  'lookup',
  'via',
  'from',
  'to',
  'default',
  'local',
  'main',
  'unspec',
  'none',
  'group',
  'alias',
  'netns',
  'index',
  'address',
  'broadcast',
  'mtu',
  'txqueuelen',
]);

/** Why `s` is not a usable interface name, or null when it is. */
export function ifNameProblem(s: unknown): string | null {
  if (typeof s !== 'string') return 'is not a string';
  if (s.length === 0) return 'is empty';
  if (s.length > IFNAME_MAX) return `"${s}" is longer than ${IFNAME_MAX} characters`;
  if (s === '.' || s === '..') return `"${s}" is not a valid interface name`;
  // Kernel dev_valid_name(): no '/', ':' or whitespace; plus anything ip -batch would split on.
  if (/[/:\s]/.test(s)) return `"${s}" contains '/', ':' or whitespace`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f#'"\\]/.test(s)) return `"${s}" contains a control character, '#', a quote or a backslash`;
  if (s.startsWith('-')) return `"${s}" starts with '-' and would be read as an option`;
  if (IP_WORDS.has(s)) return `"${s}" would be read as an ip keyword`;
  return null;
}

export function validIfName(s: unknown): s is string {
  return ifNameProblem(s) === null;
}

export function assertIfName(s: unknown): string {
  const p = ifNameProblem(s);
  if (p !== null) throw new NameError(`invalid interface name: ${p}`);
  return s as string;
}

const VRF_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;

/** Why `s` is not a usable VRF name, or null when it is. */
export function vrfNameProblem(s: unknown): string | null {
  if (typeof s !== 'string') return 'is not a string';
  if (s.length === 0) return 'is empty';
  if (s.length > IFNAME_MAX) return `"${s}" is longer than ${IFNAME_MAX} characters`;
  if (!VRF_NAME_RE.test(s)) return `"${s}" must be lowercase letters, digits and '-', not starting with '-'`;
  if (RESERVED_VRF_NAMES.includes(s)) return `"${s}" is a reserved name`;
  if (/^[0-9]+$/.test(s)) return `"${s}" is all digits and would be read as a table id`;
  if (IP_WORDS.has(s)) return `"${s}" would be read as an ip keyword`;
  return null;
}

export function validVrfName(s: unknown): s is string {
  return vrfNameProblem(s) === null;
}

export function assertVrfName(s: unknown): string {
  const p = vrfNameProblem(s);
  if (p !== null) throw new NameError(`invalid VRF name: ${p}`);
  return s as string;
}
