/**
 * actions.yaml by Juju's rules (github.com/juju/juju internal/charm/actions.go, ReadActionsYaml):
 * action names match its name rule, and each action's params become one JSON-Schema draft-4
 * object schema (title, properties, additionalProperties false unless said otherwise), which must
 * compile. The controller validates `juju run` params against it before the charm runs; the charm
 * validates them again with schemas generated from the same file (src/charm/action-params.gen.ts),
 * so the two must agree on every input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import fc from 'fast-check';
import YAML from 'yaml';
import { z } from 'zod';
import { ACTION_PARAMS } from '../../../src/charm/action-params.gen.js';
import { actionParamsSource, generatedIsCurrent } from '../../../scripts/gen-action-params.mjs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ACTIONS = z
  .record(z.string(), z.record(z.string(), z.unknown()).nullable())
  .parse(YAML.parse(readFileSync(join(ROOT, 'actions.yaml'), 'utf8')));

// Juju's action name rule today (internal/charm) and the stricter one of Juju 2.x (charm v7–v9,
// no digits); `juju run` checks each params key with the same rule.
const NAME_RULE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const NAME_RULE_2X = /^[a-z](?:[a-z-]*[a-z])?$/;

/** The schema Juju builds for an action from its actions.yaml entry (ReadActionsYaml). */
function jujuSchema(name: string, spec: Record<string, unknown> | null): Record<string, unknown> {
  const schema: Record<string, unknown> = {
    description: 'No description',
    type: 'object',
    title: name,
    properties: {},
    additionalProperties: false,
  };
  for (const [k, v] of Object.entries(spec ?? {})) {
    if (k === 'parallel' || k === 'execution-group') continue;
    schema[k === 'params' ? 'properties' : k] = v;
  }
  return schema;
}

function keysDeep(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(keysDeep);
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)]);
  return [];
}

// (a CommonJS module: its class is module.exports.default as well)
const ajv = new Ajv04.default({ allErrors: true, strict: true, strictTypes: false });
const validators = Object.fromEntries(
  Object.entries(ACTIONS).map(([name, spec]) => [name, ajv.compile(jujuSchema(name, spec))]),
);

describe('actions.yaml by Juju’s rules', () => {
  test.each(Object.keys(ACTIONS))('%s: a valid Juju action name; its params keys too', (name) => {
    expect(name).toMatch(NAME_RULE);
    expect(name).toMatch(NAME_RULE_2X);
    for (const key of Object.keys((ACTIONS[name]?.['params'] as object | undefined) ?? {}))
      expect(key).toMatch(NAME_RULE);
  });

  test.each(Object.keys(ACTIONS))(
    '%s: its params schema compiles as JSON-Schema draft 4, without $ref/$schema',
    (name) => {
      expect(typeof validators[name]).toBe('function');
      const keys = keysDeep(ACTIONS[name]);
      expect(keys).not.toContain('$ref');
      expect(keys).not.toContain('$schema');
    },
  );

  test('the charm handles exactly the actions actions.yaml declares', () => {
    expect(Object.keys(ACTION_PARAMS).sort()).toEqual(Object.keys(ACTIONS).sort());
  });

  test('src/charm/action-params.gen.ts is what actions.yaml generates', async () => {
    expect(await generatedIsCurrent()).toBe(true);
  });

  test('the generator refuses a keyword it does not translate, and a default of the wrong type', () => {
    expect(() => actionParamsSource('a:\n  params:\n    x: {type: string, format: ipv4}\n')).toThrow(
      /a\.params\.x: keyword format is not translated/,
    );
    expect(() => actionParamsSource('a:\n  params:\n    x: {type: boolean, default: "no"}\n')).toThrow(
      /default "no" is not of its type/,
    );
    expect(() => actionParamsSource('a:\n  additionalProperties: true\n')).toThrow(/additionalProperties: false/);
  });
});

describe('plan config: what `juju run vrf-host/0 plan config=…` delivers', () => {
  // juju run parses each key=value argument with yaml.Unmarshal (cmd/juju/action/run.go), then
  // ConformYAML turns its map[interface{}]interface{} into string keys: the README's example
  //   config='{gateways: "public=172.16.0.254"}'
  // arrives as this mapping, not as text. (yaml.v2 and the yaml package agree on such flow mappings.)
  const README = YAML.parse('{gateways: "public=172.16.0.254"}') as unknown;
  const DESCRIPTION = YAML.parse("{gateways: 'public=172.16.0.1', strict: false}") as unknown;

  test('the parsed values are mappings', () => {
    expect(README).toEqual({ gateways: 'public=172.16.0.254' });
    expect(DESCRIPTION).toEqual({ gateways: 'public=172.16.0.1', strict: false });
  });

  test.each([
    [{ config: { gateways: 'public=172.16.0.254' } }, true],
    [{ config: { gateways: 'public=172.16.0.1', strict: false } }, true],
    [{ config: '{gateways: "public=172.16.0.254"}' }, true], // --string-args, or a params file
    [{}, true],
    [{ config: 3 }, false],
    [{ config: ['public=172.16.0.254'] }, false],
    [{ config: null }, false],
    [{ other: 'x' }, false],
  ])('%j: the controller (ajv, draft 4) and the charm agree: %s', (params, valid) => {
    expect(validators['plan']?.(params)).toBe(valid);
    expect(ACTION_PARAMS.plan.safeParse(params).success).toBe(valid);
  });
});

describe('the generated schemas accept exactly what Juju’s schema accepts', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom('public', 'storage-1', 'Public!', 'a', '', '172.16.0.1', 'a'.repeat(16)),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  );
  test.each(Object.keys(ACTIONS))('%s', (name) => {
    const declared = Object.keys((ACTIONS[name]?.['params'] as object | undefined) ?? {});
    const schema = ACTION_PARAMS[name as keyof typeof ACTION_PARAMS];
    const validate = validators[name]!;
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...declared, 'unknown-param'), value, { maxKeys: declared.length + 1 }),
        (params) => {
          // JSON in, as action-get --format=json hands them over
          const p = JSON.parse(JSON.stringify(params)) as Record<string, unknown>;
          expect({ params: p, zod: schema.safeParse(p).success }).toEqual({ params: p, zod: validate(p) });
        },
      ),
      { numRuns: 300 },
    );
  });
});
