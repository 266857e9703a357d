/**
 * For the VM's scale grid (bench/vm/converge.guest.mjs imports the bundle): the ip batch that
 * builds a scale host's members, and the read batch a no-op reconcile needs.
 */
import { batchInput } from '../src/vrf/ip.js';
import { observeBatch } from '../src/vrf/observe.js';
import { scaleSpec, setupLines, type ScaleSize } from './lib/gen.js';

export function scaleSetup(size: ScaleSize): { setup: string; read: string } {
  const spec = scaleSpec(size, 0);
  const lines = [
    ...setupLines(spec),
    ['link', 'add', spec.mgmt.dev, 'type', 'dummy'],
    ['address', 'add', `${spec.mgmt.address}/${spec.mgmt.prefixlen}`, 'dev', spec.mgmt.dev],
    ['link', 'set', spec.mgmt.dev, 'up'],
    ['link', 'set', 'lo', 'up'],
    ['route', 'add', 'default', 'via', spec.mgmt.gateway, 'dev', spec.mgmt.dev],
  ];
  // the read batch: everything but the `-6 rule show` line (that needs its own ip -6 process)
  const read = observeBatch([spec.controller]).filter((l) => l[0] !== '-6');
  return { setup: batchInput(lines), read: batchInput(read) };
}
