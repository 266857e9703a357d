#!/usr/bin/env node
// npm run gen:actions: actions.yaml → src/charm/action-params.gen.ts, one zod schema per action.
// actions.yaml is the one source of truth for what an action accepts: Juju validates params
// against it (as JSON-Schema draft 4) before the charm runs, and the charm validates them again
// with these schemas (the hook-tool simulator, a rollback or `juju exec` skip the controller),
// typed from the same text. The charm adds only what JSON-Schema cannot say (an address parses).
// Only the draft-4 keywords below are translated; any other one stops the generator, so a schema
// can never be enforced by Juju and silently ignored here. npm run build refuses a stale file.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ACTIONS_YAML = join(ROOT, 'actions.yaml');
export const GENERATED = join(ROOT, 'src/charm/action-params.gen.ts');

export class ActionSchemaError extends Error {
  /** @override */
  name = 'ActionSchemaError';
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
  }
}

const PARAM_KEYWORDS = new Set(['type', 'description', 'default', 'pattern', 'minLength', 'maxLength', 'enum']);
const ACTION_KEYWORDS = new Set([
  'description',
  'params',
  'additionalProperties',
  'required',
  'parallel',
  'execution-group',
]);
/**
 * JSON-Schema type → its zod schema (given zod's params argument, or none), its words, its JS check.
 * @type {Readonly<Record<string, { zod: (e: string) => string, says: string, js: (v: unknown) => boolean }>>}
 */
const TYPE_WORDS = {
  string: { zod: (e) => `z.string(${e})`, says: 'a string', js: (v) => typeof v === 'string' },
  boolean: { zod: (e) => `z.boolean(${e})`, says: 'true or false', js: (v) => typeof v === 'boolean' },
  integer: { zod: (e) => `z.int(${e})`, says: 'an integer', js: Number.isInteger },
  number: { zod: (e) => `z.number(${e})`, says: 'a number', js: (v) => typeof v === 'number' },
  object: {
    zod: (e) => `z.record(z.string(), z.unknown()${e ? `, ${e}` : ''})`,
    says: 'a mapping',
    js: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  },
};

/** @param {unknown} v */
const lit = (v) => JSON.stringify(v);

/**
 * One param's zod schema, as TypeScript source.
 * @param {string} action
 * @param {string} name
 * @param {any} p the param's schema as YAML parsed it (each keyword is checked below)
 */
function paramSchema(action, name, p) {
  const where = `actions.yaml: ${action}.params.${name}`;
  if (p === null || typeof p !== 'object' || Array.isArray(p))
    throw new ActionSchemaError(`${where} must be a mapping`);
  for (const k of Object.keys(p))
    if (!PARAM_KEYWORDS.has(k))
      throw new ActionSchemaError(`${where}: keyword ${k} is not translated (only ${[...PARAM_KEYWORDS].join(', ')})`);
  /** @type {unknown[]} */
  const typeNames = Array.isArray(p.type) ? p.type : [p.type];
  const types = typeNames.flatMap((t) => {
    const word = typeof t === 'string' && Object.hasOwn(TYPE_WORDS, t) ? TYPE_WORDS[t] : undefined;
    return word && typeof t === 'string' ? [{ name: t, ...word }] : [];
  });
  if (types.length === 0 || types.length !== typeNames.length)
    throw new ActionSchemaError(`${where}: type must be one of (or a list of) ${Object.keys(TYPE_WORDS).join(', ')}`);
  const says = `must be ${types.map((t) => t.says).join(' or ')}`;
  const hasString = types.some((t) => t.name === 'string');
  if ((p.pattern !== undefined || p.minLength !== undefined || p.maxLength !== undefined) && types.length !== 1)
    throw new ActionSchemaError(`${where}: pattern/minLength/maxLength only with type: string alone`);
  if ((p.pattern !== undefined || p.minLength !== undefined || p.maxLength !== undefined) && !hasString)
    throw new ActionSchemaError(`${where}: pattern/minLength/maxLength need type: string`);
  /** @param {(typeof types)[number]} t */
  const one = (t) => {
    let s = t.zod(types.length === 1 ? `{ error: ${lit(says)} }` : '');
    if (t.name === 'string') {
      if (p.minLength !== undefined)
        s += `.min(${lit(p.minLength)}, { error: ${lit(`must be at least ${p.minLength} characters`)} })`;
      if (p.maxLength !== undefined)
        s += `.max(${lit(p.maxLength)}, { error: ${lit(`must be at most ${p.maxLength} characters`)} })`;
      if (p.pattern !== undefined) {
        new RegExp(p.pattern, 'u'); // throws on a pattern JavaScript cannot read
        s += `.regex(new RegExp(${lit(p.pattern)}, 'u'), { error: ${lit(`must match ${p.pattern}`)} })`;
      }
    }
    return s;
  };
  let s =
    types.length === 1 && types[0] ? one(types[0]) : `z.union([${types.map(one).join(', ')}], { error: ${lit(says)} })`;
  if (p.enum !== undefined) {
    if (!Array.isArray(p.enum) || p.enum.length === 0) throw new ActionSchemaError(`${where}: enum must be a list`);
    s +=
      `.refine((v) => ${lit(p.enum)}.includes(v), { error:` +
      ` ${lit(`must be one of ${p.enum.map((/** @type {unknown} */ e) => JSON.stringify(e)).join(', ')}`)} })`;
  }
  if (p.default !== undefined) {
    if (!types.some((t) => t.js(p.default)))
      throw new ActionSchemaError(`${where}: default ${lit(p.default)} is not of its type`);
    return `${s}.default(${lit(p.default)})`;
  }
  return s;
}

/**
 * The TypeScript module for an actions.yaml text.
 * @param {string} yamlText
 */
export function actionParamsSource(yamlText) {
  /** @type {Record<string, any>} actions.yaml as YAML parsed it (each keyword is checked below) */
  const doc = YAML.parse(yamlText) ?? {};
  /** @type {string[]} */
  const lines = [];
  for (const [action, spec] of Object.entries(doc)) {
    const a = spec ?? {};
    for (const k of Object.keys(a))
      if (!ACTION_KEYWORDS.has(k))
        throw new ActionSchemaError(`actions.yaml: ${action}: keyword ${k} is not translated`);
    // Juju's own default for an action's params object is additionalProperties: false.
    if (a.additionalProperties !== undefined && a.additionalProperties !== false)
      throw new ActionSchemaError(`actions.yaml: ${action}: only additionalProperties: false is translated`);
    const required = a.required ?? [];
    const params = a.params ?? {};
    for (const r of required)
      if (!Object.hasOwn(params, r)) throw new ActionSchemaError(`actions.yaml: ${action}: required ${r} is no param`);
    const fields = Object.entries(params).map(([name, p]) => {
      const s = paramSchema(action, name, p);
      const optional = !required.includes(name) && p.default === undefined ? '.optional()' : '';
      return `    ${lit(name)}: ${s}${optional},`;
    });
    lines.push(`  ${lit(action)}: z`, `    .object({`, ...fields.map((f) => `  ${f}`), `    })`, `    .strict(),`);
  }
  return [
    '// Generated from actions.yaml by scripts/gen-action-params.mjs (npm run gen:actions): do not edit.',
    "import { z } from 'zod';",
    '',
    "/** Each action's params as actions.yaml declares them (unknown params refused, defaults applied). */",
    'export const ACTION_PARAMS = {',
    ...lines,
    '} as const;',
    '',
  ].join('\n');
}

/** The generated module, formatted as the repository's prettier config says. */
export async function generatedSource() {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(GENERATED)) ?? {};
  return prettier.format(actionParamsSource(await readFile(ACTIONS_YAML, 'utf8')), { ...options, filepath: GENERATED });
}

/** Whether src/charm/action-params.gen.ts is what actions.yaml generates. */
export async function generatedIsCurrent() {
  const want = await generatedSource();
  try {
    return (await readFile(GENERATED, 'utf8')) === want;
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await writeFile(GENERATED, await generatedSource());
    console.log(`wrote ${GENERATED}`);
  } catch (err) {
    console.error(
      `gen:actions failed:` +
        ` ${err instanceof ActionSchemaError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exitCode = 1;
  }
}
