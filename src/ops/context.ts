/**
 * The typed JUJU_* environment of one dispatch (ops' `_JujuContext`).
 */
import { z } from 'zod';
import { JujuContextError } from './errors.js';
import { RELATION_ID_RE } from './hookcmds/relation.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface RelationRef {
  /** `endpoint:N` as Juju writes it. */
  readonly id: string;
  readonly endpoint: string;
  readonly num: number;
}

export interface JujuContext {
  readonly dispatchPath: string;
  readonly unitName: string;
  readonly appName: string;
  readonly modelName?: string | undefined;
  readonly modelUuid?: string | undefined;
  readonly charmDir?: string | undefined;
  readonly version?: string | undefined;
  readonly apiAddresses: readonly HostPort[];
  readonly machineId?: string | undefined;
  readonly principalUnit?: string | undefined;
  readonly availabilityZone?: string | undefined;
  readonly relation?: string | undefined;
  readonly relationId?: RelationRef | undefined;
  readonly remoteUnit?: string | undefined;
  readonly remoteApp?: string | undefined;
  /** JUJU_DEPARTING_UNIT, on relation-departed. */
  readonly departingUnit?: string | undefined;
  readonly actionName?: string | undefined;
  readonly actionUuid?: string | undefined;
}

const UNIT_RE = /^([a-z][a-z0-9-]*)\/(\d+)$/;
const PORT_MAX = 65535;

/** Parse one `host:port` (`[v6]:port` for IPv6). */
export function parseHostPort(s: string): HostPort {
  const m = /^\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(s);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    throw new Error(`${JSON.stringify(s)} is not host:port (IPv6 as [addr]:port)`);
  }
  return { host, port };
}

const optional = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s === '' ? undefined : s));

const HostPortList = z
  .string()
  .optional()
  .transform((s, ctx) => {
    const out: HostPort[] = [];
    for (const item of (s ?? '').split(/\s+/).filter(Boolean)) {
      try {
        out.push(parseHostPort(item));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }
    return out;
  });

const EnvSchema = z.object({
  JUJU_DISPATCH_PATH: z.string().min(1, 'must be set (hooks/NAME or actions/NAME)'),
  JUJU_UNIT_NAME: z.string().regex(UNIT_RE, 'must look like app/N'),
  JUJU_MODEL_NAME: optional,
  JUJU_MODEL_UUID: optional,
  JUJU_CHARM_DIR: optional,
  JUJU_VERSION: optional.refine((v) => v === undefined || /^\d+\.\d+/.test(v), 'must look like 3.6.1'),
  JUJU_API_ADDRESSES: HostPortList,
  JUJU_MACHINE_ID: optional,
  JUJU_PRINCIPAL_UNIT: optional.refine((v) => v === undefined || UNIT_RE.test(v), 'must look like app/N'),
  JUJU_AVAILABILITY_ZONE: optional,
  JUJU_RELATION: optional,
  JUJU_RELATION_ID: optional.refine((v) => v === undefined || RELATION_ID_RE.test(v), 'must look like endpoint:N'),
  JUJU_REMOTE_UNIT: optional.refine((v) => v === undefined || UNIT_RE.test(v), 'must look like app/N'),
  JUJU_REMOTE_APP: optional,
  JUJU_DEPARTING_UNIT: optional.refine((v) => v === undefined || UNIT_RE.test(v), 'must look like app/N'),
  JUJU_ACTION_NAME: optional,
  JUJU_ACTION_UUID: optional,
});

/** Build the JujuContext from an environment, or throw JujuContextError naming the variables. */
export function parseJujuContext(env: Readonly<Record<string, string | undefined>>): JujuContext {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new JujuContextError(`invalid Juju environment: ${detail}`, { cause: parsed.error });
  }
  const e = parsed.data;
  const rel = e.JUJU_RELATION_ID !== undefined ? RELATION_ID_RE.exec(e.JUJU_RELATION_ID) : null;
  return {
    dispatchPath: e.JUJU_DISPATCH_PATH,
    unitName: e.JUJU_UNIT_NAME,
    appName: e.JUJU_UNIT_NAME.split('/')[0] ?? '',
    modelName: e.JUJU_MODEL_NAME,
    modelUuid: e.JUJU_MODEL_UUID,
    charmDir: e.JUJU_CHARM_DIR,
    version: e.JUJU_VERSION,
    apiAddresses: e.JUJU_API_ADDRESSES,
    machineId: e.JUJU_MACHINE_ID,
    principalUnit: e.JUJU_PRINCIPAL_UNIT,
    availabilityZone: e.JUJU_AVAILABILITY_ZONE,
    relation: e.JUJU_RELATION,
    relationId: rel ? { id: rel[0], endpoint: rel[1] ?? '', num: Number(rel[2]) } : undefined,
    remoteUnit: e.JUJU_REMOTE_UNIT,
    remoteApp: e.JUJU_REMOTE_APP,
    departingUnit: e.JUJU_DEPARTING_UNIT,
    actionName: e.JUJU_ACTION_NAME,
    actionUuid: e.JUJU_ACTION_UUID,
  };
}
