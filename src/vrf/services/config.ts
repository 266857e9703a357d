/**
 * The `services` option: a YAML mapping of systemd unit → VRF, e.g.
 *   {bacula-fd.service: storage, chrony.service: public}
 * (the VRF's name in explicit mode, the binding's name in automatic mode, which is its VRF's).
 * Parsed on its own (unit names, values), then resolved against the desired state: every entry
 * must name a VRF vrf-host builds. Every problem names the entry; any problem means nothing is
 * applied.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { describe, yamlErrorText } from '../yaml-text.js';
import { vrfNameProblem } from '../names.js';
import type { DesiredState, HeldSpace, Problem, ServiceEntry } from '../types.js';
import { unitNameProblem } from './unit-name.js';

export type { ServiceEntry };

export type ServicesResult =
  | { readonly ok: true; readonly entries: readonly ServiceEntry[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

const FIELD = 'services';
const entryField = (unit: string): string => `${FIELD}: ${unit}`;

/** The option's text → its entries (sorted by unit), or every problem found. */
export function parseServicesOption(text: string): ServicesResult {
  if (text.trim() === '') return { ok: true, entries: [] };
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  const err = doc.errors[0];
  if (err) return { ok: false, problems: [{ field: FIELD, message: yamlErrorText(err) }] };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (cause) {
    return { ok: false, problems: [{ field: FIELD, message: `invalid YAML: ${(cause as Error).message}` }] };
  }
  if (data === null || data === undefined) return { ok: true, entries: [] };
  const top = z.record(z.string(), z.unknown()).safeParse(data);
  if (!top.success || Array.isArray(data)) {
    return {
      ok: false,
      problems: [{ field: FIELD, message: `must be a mapping of unit name to VRF, not ${describe(data)}` }],
    };
  }
  const problems: Problem[] = [];
  const entries: ServiceEntry[] = [];
  for (const unit of Object.keys(top.data).sort()) {
    const value = z.string().safeParse(top.data[unit]);
    const unitProblem = unitNameProblem(unit);
    if (unitProblem !== null) problems.push({ field: entryField(unit), message: unitProblem });
    if (!value.success) {
      problems.push({ field: entryField(unit), message: `must name a VRF, not ${describe(top.data[unit])}` });
      continue;
    }
    const vrf = value.data.trim();
    const vrfProblem = vrfNameProblem(vrf);
    if (vrfProblem !== null) problems.push({ field: entryField(unit), message: `VRF ${vrfProblem}` });
    else if (unitProblem === null) entries.push({ unit, vrf });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}

/**
 * Every entry's VRF must be one the desired state builds. A held space (no gateway yet), a
 * binding that stays in main, and a binding named instead of its explicit VRF each get their
 * own message.
 */
export function resolveServices(
  entries: readonly ServiceEntry[],
  desired: DesiredState,
  held: readonly HeldSpace[],
): ServicesResult {
  const names = new Set(desired.vrfs.map((v) => v.name));
  const problems: Problem[] = [];
  for (const e of entries) {
    if (names.has(e.vrf)) continue;
    problems.push({ field: entryField(e.unit), message: whyNoVrf(e.vrf, desired, held, names) });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}

function whyNoVrf(vrf: string, desired: DesiredState, held: readonly HeldSpace[], names: ReadonlySet<string>): string {
  const h = held.find((x) => x.vrf === vrf || x.binding === vrf);
  if (h) return `names ${vrf}, whose VRF is not built: no gateway found for it yet (set config gateways)`;
  const byBinding = desired.vrfs.find((v) => v.binding === vrf);
  if (byBinding) return `names the binding ${vrf}: name its VRF, ${byBinding.name}`;
  const inMain = desired.inMain.find((b) => b.binding === vrf);
  if (inMain) return `names ${vrf}, which stays in the main table (${inMain.reason}): there is no VRF to run it in`;
  const known = [...names].sort();
  return `names ${vrf}, which is not a VRF of this unit (${known.length > 0 ? known.join(', ') : 'none'})`;
}
