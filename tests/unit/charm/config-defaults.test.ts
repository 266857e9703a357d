/**
 * config.yaml is what Juju shows the operator; DEFAULT_CONFIG_RAW and the charm-only schema are
 * what the code falls back to. They must declare the same options with the same defaults.
 */
import { z } from 'zod';
import { charmOnlyDefaults } from '../../../src/charm/inputs.js';
import { DEFAULT_CONFIG_RAW } from '../../../src/vrf/config.js';
import { CONFIG } from './helpers.js';

function yamlDefaults(): Record<string, unknown> {
  const { options } = z.object({ options: z.record(z.string(), z.object({ default: z.unknown() })) }).parse(CONFIG);
  return Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.default]));
}

describe("config.yaml's defaults", () => {
  it("are the code's: the engine's DEFAULT_CONFIG_RAW and the charm's own options, no more, no fewer", () => {
    expect(yamlDefaults()).toEqual({ ...DEFAULT_CONFIG_RAW, ...charmOnlyDefaults() });
  });
  it('do not overlap between engine and charm', () => {
    const engine = Object.keys(DEFAULT_CONFIG_RAW);
    expect(Object.keys(charmOnlyDefaults()).filter((k) => engine.includes(k))).toEqual([]);
  });
});
