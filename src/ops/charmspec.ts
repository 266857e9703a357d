/**
 * The charm's metadata.yaml / actions.yaml / config.yaml, as the framework
 * needs them: which endpoints exist (for relation event names and bindings),
 * which actions exist, and option defaults (for the testing harness).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const EndpointSchema = z.object({ interface: z.string(), scope: z.enum(['global', 'container']).optional() }).loose();
const EndpointMap = z
  .record(z.string(), EndpointSchema)
  .nullable()
  .optional()
  .transform((m) => m ?? {});

export const MetadataSchema = z
  .object({
    name: z.string().min(1),
    subordinate: z.boolean().optional(),
    requires: EndpointMap,
    provides: EndpointMap,
    peers: EndpointMap,
    'extra-bindings': z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .transform((m) => Object.keys(m ?? {})),
  })
  .loose();
export type CharmMeta = z.input<typeof MetadataSchema>;

export const ActionsSchema = z
  .record(
    z.string(),
    z
      .object({ description: z.string().optional(), params: z.record(z.string(), z.unknown()).optional() })
      .loose()
      .nullable(),
  )
  .nullable()
  .transform((m) => m ?? {});
export type CharmActions = z.input<typeof ActionsSchema>;

const OptionSchema = z
  .object({
    type: z.enum(['string', 'int', 'float', 'boolean', 'secret']),
    default: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    description: z.string().optional(),
  })
  .loose();
export const ConfigSchema = z
  .object({
    options: z
      .record(z.string(), OptionSchema)
      .nullable()
      .optional()
      .transform((m) => m ?? {}),
  })
  .nullable()
  .transform((c) => c ?? { options: {} });
export type CharmConfigSpec = z.input<typeof ConfigSchema>;

export interface CharmSpec {
  readonly name: string;
  readonly subordinate: boolean;
  /** Every relation endpoint (requires, provides, peers) → its interface. */
  readonly endpoints: Readonly<
    Record<string, { readonly interface: string; readonly role: 'requires' | 'provides' | 'peers' }>
  >;
  readonly extraBindings: readonly string[];
  readonly actions: readonly string[];
  /** Option name → its default (options without a default are absent). */
  readonly configDefaults: Readonly<Record<string, string | number | boolean>>;
  readonly configTypes: Readonly<Record<string, string>>;
}

function fail(file: string, err: z.ZodError): never {
  const detail = err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new Error(`invalid ${file}: ${detail}`, { cause: err });
}

/** Build a CharmSpec from already-parsed YAML documents. */
export function charmSpecFrom(meta: unknown, actions?: unknown, config?: unknown): CharmSpec {
  const m = MetadataSchema.safeParse(meta);
  if (!m.success) fail('metadata.yaml', m.error);
  const a = ActionsSchema.safeParse(actions ?? null);
  if (!a.success) fail('actions.yaml', a.error);
  const c = ConfigSchema.safeParse(config ?? null);
  if (!c.success) fail('config.yaml', c.error);
  const endpoints: Record<string, { interface: string; role: 'requires' | 'provides' | 'peers' }> = {};
  for (const role of ['requires', 'provides', 'peers'] as const) {
    for (const [name, ep] of Object.entries(m.data[role])) endpoints[name] = { interface: ep.interface, role };
  }
  const configDefaults: Record<string, string | number | boolean> = {};
  const configTypes: Record<string, string> = {};
  for (const [name, opt] of Object.entries(c.data.options)) {
    configTypes[name] = opt.type;
    if (opt.default !== undefined && opt.default !== null) configDefaults[name] = opt.default;
  }
  return {
    name: m.data.name,
    subordinate: m.data.subordinate ?? false,
    endpoints,
    extraBindings: m.data['extra-bindings'],
    actions: Object.keys(a.data),
    configDefaults,
    configTypes,
  };
}

async function readYaml(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}`, { cause: err });
  }
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new Error(`${path} is not valid YAML`, { cause: err });
  }
}

/** Read metadata.yaml (required), actions.yaml and config.yaml from the charm dir. */
export async function loadCharmSpec(charmDir: string): Promise<CharmSpec> {
  const [meta, actions, config] = await Promise.all([
    readYaml(join(charmDir, 'metadata.yaml'), true),
    readYaml(join(charmDir, 'actions.yaml'), false),
    readYaml(join(charmDir, 'config.yaml'), false),
  ]);
  return charmSpecFrom(meta, actions, config);
}
