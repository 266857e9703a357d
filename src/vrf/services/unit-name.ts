/**
 * Which systemd unit names the `services` option accepts. A name reaches a systemctl argv
 * (after `--`) and a path under /etc/systemd/system, so it is checked here first, with
 * systemd's own rule (`unit_name_is_valid`: at most 255 characters of `[A-Za-z0-9:_.\\-]`,
 * `@` once before an instance) narrowed to what vrf-host can move into a VRF: a service,
 * never a template without an instance, never vrf-host's own boot unit, and never the Juju
 * agent (moving it would cut the unit's path to its controller).
 */

/** systemd's UNIT_NAME_MAX is 256 including the NUL. */
export const UNIT_NAME_MAX = 255;

const CHARS_RE = /^[A-Za-z0-9:_.\\-]+$/;

/** Units vrf-host never moves: itself, and the agents that talk to the Juju controller. */
const REFUSED: readonly { readonly test: (name: string) => boolean; readonly why: string }[] = [
  { test: (n) => n === 'vrf-host.service', why: 'is the unit that builds the VRFs at boot' },
  {
    test: (n) => n.startsWith('jujud-') || n.startsWith('juju-'),
    why: "is Juju's agent: in a VRF it would lose the unit's path to its controller",
  },
];

/** Why `s` is not a unit name the `services` option accepts, or null when it is. */
export function unitNameProblem(s: string): string | null {
  if (s.length === 0) return 'is empty';
  if (s.length > UNIT_NAME_MAX) return `is longer than ${UNIT_NAME_MAX} characters`;
  if (!s.endsWith('.service')) return 'is not a service unit (its name must end in .service)';
  const stem = s.slice(0, -'.service'.length);
  if (stem.length === 0) return 'has no name before .service';
  if (stem.startsWith('-')) return "starts with '-'";
  const at = stem.indexOf('@');
  const prefix = at < 0 ? stem : stem.slice(0, at);
  const instance = at < 0 ? null : stem.slice(at + 1);
  if (prefix.length === 0) return "has no name before '@'";
  if (instance === '') return 'is a template without an instance (name one, e.g. ntp@mgmt.service)';
  if (!CHARS_RE.test(prefix) || (instance !== null && !CHARS_RE.test(instance))) {
    return 'may contain only letters, digits, ":", "_", ".", "\\", "-" and one "@"';
  }
  for (const r of REFUSED) if (r.test(s)) return r.why;
  return null;
}
