import { charmSpecFrom } from '../../../src/ops/charmspec.js';
import { UnknownEventError } from '../../../src/ops/errors.js';
import { LIFECYCLE_HOOKS, resolveDispatchPath } from '../../../src/ops/events.js';
import { highestPriority, Status, STATUS_PRIORITY } from '../../../src/ops/status.js';

const spec = charmSpecFrom(
  {
    name: 'vrf-host',
    subordinate: true,
    requires: { 'juju-info': { interface: 'juju-info', scope: 'container' } },
    'extra-bindings': { mgmt: null },
  },
  { 'show-vrfs': { params: {} } },
);

describe('dispatch path → event', () => {
  test.each(LIFECYCLE_HOOKS.map((h) => [h]))('hooks/%s is a hook', (name) => {
    expect(resolveDispatchPath(`hooks/${name}`, spec)).toEqual({ kind: 'hook', name });
  });
  test.each(['created', 'joined', 'changed', 'departed', 'broken'])(
    'hooks/juju-info-relation-%s is a relation event',
    (kind) => {
      expect(resolveDispatchPath(`hooks/juju-info-relation-${kind}`, spec)).toEqual({
        kind: 'relation',
        name: `juju-info-relation-${kind}`,
        endpoint: 'juju-info',
        event: kind,
      });
    },
  );
  test('actions/NAME is an action', () => {
    expect(resolveDispatchPath('actions/show-vrfs', spec)).toEqual({ kind: 'action', name: 'show-vrfs' });
    expect(resolveDispatchPath('./actions/show-vrfs', spec)).toEqual({ kind: 'action', name: 'show-vrfs' });
  });
  test.each([
    ['hooks/bogus', 'not a hook this charm knows'],
    ['hooks/a-hook-of-a-newer-juju', 'not a hook this charm knows'],
    ['hooks/db-relation-joined', 'relation endpoint "db" is not in metadata.yaml'],
    ['hooks/juju-info-relation-exploded', 'not a hook this charm knows'],
  ])('%j is a hook the charm does not know (ops ignores it)', (path, reason) => {
    expect(resolveDispatchPath(path, spec)).toEqual({ kind: 'unknown', name: path.slice('hooks/'.length), reason });
  });
  test.each([
    ['actions/plan', /action "plan" is not declared in actions.yaml/],
    ['install', /expected hooks\/NAME or actions\/NAME/],
    ['hooks/', /expected hooks\/NAME/],
    ['hooks/a/b', /expected hooks\/NAME/],
    ['hooks/Install', /not a valid event name/],
    ['', /expected hooks\/NAME/],
  ])('%j is unknown', (path, re) => {
    expect(() => resolveDispatchPath(path, spec)).toThrow(UnknownEventError);
    expect(() => resolveDispatchPath(path, spec)).toThrow(re);
  });
});

describe('status priority', () => {
  test('the order is ops’: error > blocked > maintenance > waiting > active > unknown', () => {
    expect(STATUS_PRIORITY).toEqual(['error', 'blocked', 'maintenance', 'waiting', 'active', 'unknown']);
  });
  test('the highest wins regardless of order; the first wins a tie', () => {
    const a = Status.active('a');
    const w = Status.waiting('w');
    const m = Status.maintenance('m');
    const b1 = Status.blocked('b1');
    const b2 = Status.blocked('b2');
    expect(highestPriority([a, w, m])).toBe(m);
    expect(highestPriority([a, b1, w, b2, m])).toBe(b1);
    expect(highestPriority([{ name: 'unknown', message: '' }, a])).toBe(a);
    expect(highestPriority([b1, { name: 'error', message: 'e' }])).toEqual({ name: 'error', message: 'e' });
    expect(highestPriority([])).toBeUndefined();
  });
});
