/**
 * zod schemas for `ip -json -details` output (iproute2 ≥ 5.x). Tolerant of
 * fields we do not use, strict on the ones we do. They accept both the named
 * (`main`, `kernel`, `link`) and the numeric (`-Numeric`: `254`, `2`, `253`)
 * spellings.
 */
import { z } from 'zod';

const str = z.string();
const int = z.number().int();
/** ip prints some ids as numbers, some as strings (names or, with -N, digits). */
const idOrName = z.union([z.string(), int]);

export const LinkSchema = z.object({
  ifindex: int.nonnegative(),
  ifname: str.min(1),
  flags: z.array(str).default([]),
  master: str.optional(),
  address: str.optional(),
  /** veth peer or vlan lower link; absent or null when in another namespace. */
  link: str.nullable().optional(),
  linkinfo: z
    .object({
      info_kind: str.optional(),
      info_slave_kind: str.optional(),
      info_data: z.unknown().optional(),
    })
    .optional(),
});
export const LinkDocSchema = z.array(LinkSchema);

export const VrfInfoDataSchema = z.object({ table: int.nonnegative() });
/** A VLAN's `info_data`: only its flags are read (`LOOSE_BINDING`; ip prints an unknown flag in hex). */
export const VlanInfoDataSchema = z.object({ flags: z.array(z.union([str, int])).default([]) });

export const AddrInfoSchema = z.object({
  family: str,
  local: str.optional(),
  prefixlen: int.nonnegative(),
  scope: idOrName.optional(),
});
export const AddrDocSchema = z.array(
  z.object({
    ifname: str.min(1),
    addr_info: z.array(AddrInfoSchema).default([]),
  }),
);

export const RouteSchema = z.object({
  type: idOrName.optional(),
  dst: str.min(1),
  gateway: str.optional(),
  via: z.object({ family: str.optional(), host: str }).optional(),
  dev: str.optional(),
  table: idOrName.optional(),
  protocol: idOrName.optional(),
  scope: idOrName.optional(),
  metric: int.nonnegative().optional(),
  prefsrc: str.optional(),
  nexthops: z.array(z.unknown()).optional(),
});
export const RouteDocSchema = z.array(RouteSchema);

export const RuleSchema = z.looseObject({
  priority: int.nonnegative(),
  src: str.optional(),
  srclen: int.nonnegative().optional(),
  dst: str.optional(),
  dstlen: int.nonnegative().optional(),
  table: idOrName.optional(),
  iif: str.optional(),
  oif: str.optional(),
  fwmark: str.optional(),
  fwmask: str.optional(),
  action: idOrName.optional(),
  goto: int.optional(),
  protocol: idOrName.optional(),
});
export const RuleDocSchema = z.array(RuleSchema);

export const RouteGetDocSchema = z.array(
  z.object({
    dst: str.min(1),
    dev: str.optional(),
    gateway: str.optional(),
  }),
);

export type RawLink = z.infer<typeof LinkSchema>;
export type RawRoute = z.infer<typeof RouteSchema>;
export type RawRule = z.infer<typeof RuleSchema>;
