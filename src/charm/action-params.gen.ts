// Generated from actions.yaml by scripts/gen-action-params.mjs (npm run gen:actions): do not edit.
import { z } from 'zod';

/** Each action's params as actions.yaml declares them (unknown params refused, defaults applied). */
export const ACTION_PARAMS = {
  'show-vrfs': z
    .object({
      routes: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .strict(),
  plan: z
    .object({
      config: z
        .union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be a string or a mapping' })
        .optional(),
    })
    .strict(),
  apply: z.object({}).strict(),
  'check-gateways': z
    .object({
      vrf: z
        .string({ error: 'must be a string' })
        .regex(new RegExp('^[a-z0-9-]{1,15}$', 'u'), { error: 'must match ^[a-z0-9-]{1,15}$' })
        .optional(),
      target: z.string({ error: 'must be a string' }).min(2, { error: 'must be at least 2 characters' }).optional(),
    })
    .strict(),
} as const;
