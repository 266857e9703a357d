import { z } from 'zod';
import { parseJsonOutput, type Run } from './run.js';

// network-get's documented output. Juju 2.8+ writes `value` and keeps the
// older `address` alias; we accept either. It reports no gateway and no space.
const AddressSchema = z
  .object({
    hostname: z.string().optional(),
    value: z.string().optional(),
    address: z.string().optional(),
    cidr: z.string().optional(),
  })
  .refine((a) => (a.value ?? a.address) !== undefined, { message: 'address has neither value nor address' })
  .transform((a) => ({ hostname: a.hostname ?? '', value: a.value ?? a.address ?? '', cidr: a.cidr ?? '' }));

const BindAddressSchema = z.object({
  'interface-name': z.string().default(''),
  'mac-address': z.string().default(''),
  addresses: z
    .array(AddressSchema)
    .nullable()
    .default([])
    .transform((a) => a ?? []),
});

export const NetworkGetSchema = z.object({
  'bind-addresses': z
    .array(BindAddressSchema)
    .nullable()
    .default([])
    .transform((a) => a ?? []),
  'egress-subnets': z
    .array(z.string())
    .nullable()
    .default([])
    .transform((a) => a ?? []),
  'ingress-addresses': z
    .array(z.string())
    .nullable()
    .default([])
    .transform((a) => a ?? []),
});
export type NetworkGetOutput = z.output<typeof NetworkGetSchema>;

/** `network-get --format=json [-r ID] BINDING`. */
export async function networkGet(run: Run, binding: string, relationId?: string): Promise<NetworkGetOutput> {
  const argv = ['network-get', '--format=json', ...(relationId !== undefined ? ['-r', relationId] : []), binding];
  const { stdout } = await run(argv);
  return parseJsonOutput('network-get', stdout, NetworkGetSchema);
}
