import fc from 'fast-check';
import { flattenActionResults, validateActionKey, ACTION_KEY_SEGMENT_RE } from '../../../src/ops/hookcmds/action.js';
import { InvalidArgumentError } from '../../../src/ops/errors.js';

describe('action key validation', () => {
  test.each(['a', 'ab', 'a-b', 'a1', '1a', 'vrf.storage.table', 'x.y-z.0'])('accepts %s', (key) => {
    expect(() => validateActionKey(key)).not.toThrow();
  });
  test.each([
    ['', '""'],
    ['A', '"A"'],
    ['-a', '"-a"'],
    ['a-', '"a-"'],
    ['a_b', '"a_b"'],
    ['a..b', '""'],
    ['a.', '""'],
    ['a.B', '"B"'],
    ['a b', '"a b"'],
  ])('rejects %j naming segment %s', (key, seg) => {
    expect(() => validateActionKey(key)).toThrow(InvalidArgumentError);
    expect(() => validateActionKey(key)).toThrow(`segment ${seg}`);
  });
  test.each(['stdout', 'stderr', 'stdout-encoding', 'stderr-encoding', 'stdout.x'])('rejects reserved %s', (key) => {
    expect(() => validateActionKey(key)).toThrow(/reserved by Juju/);
  });
  test('reserved names are fine below the top level', () => {
    expect(() => validateActionKey('out.stdout')).not.toThrow();
  });
  test('agrees with the segment regex on arbitrary strings, dotted ones included', () => {
    // Dots are common enough here for multi-segment keys ("a.0") to be generated every run.
    const key = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.array(fc.constantFrom('a', '0', '-', '.', 'B', '_', 'stdout'), { maxLength: 6 }).map((xs) => xs.join('')),
    );
    fc.assert(
      fc.property(key, (k) => {
        const segments = k.split('.');
        const valid =
          segments.every((s) => ACTION_KEY_SEGMENT_RE.test(s)) &&
          !['stdout', 'stderr', 'stdout-encoding', 'stderr-encoding'].includes(segments[0] ?? '');
        let threw = false;
        try {
          validateActionKey(k);
        } catch {
          threw = true;
        }
        return threw === !valid;
      }),
    );
  });
});

describe('flattening', () => {
  test('nested objects flatten with dots, scalars stringified', () => {
    expect(flattenActionResults({ a: { b: 1, c: { d: false } }, e: 'x' })).toEqual({
      'a.b': '1',
      'a.c.d': 'false',
      e: 'x',
    });
  });
  test('a dotted key colliding with a nested one is rejected', () => {
    expect(() => flattenActionResults({ a: { b: 1 }, 'a.b': 2 })).toThrow(/duplicate action result key "a.b"/);
  });
  test('an invalid nested segment is named with its full key', () => {
    expect(() => flattenActionResults({ vrf: { Storage: 1 } })).toThrow(/"vrf.Storage": segment "Storage"/);
  });
  test('null values are rejected', () => {
    expect(() => flattenActionResults({ a: null as unknown as string })).toThrow(/"a" has no value/);
  });
  test('flattening then re-nesting gives back the leaves', () => {
    const seg = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,4}[a-z0-9])?$/).filter((s) => !s.startsWith('std'));
    const tree: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ node: Record<string, unknown> }>((tie) => ({
      node: fc.dictionary(seg, fc.oneof({ maxDepth: 3 }, fc.string(), fc.integer(), tie('node')), {
        minKeys: 1,
        maxKeys: 3,
      }),
    })).node;
    fc.assert(
      fc.property(tree, (t) => {
        const flat = flattenActionResults(t as never);
        for (const [k, v] of Object.entries(flat)) {
          let cur: unknown = t;
          for (const part of k.split('.')) cur = (cur as Record<string, unknown>)[part];
          if (String(cur) !== v) return false;
        }
        return true;
      }),
    );
  });
});
