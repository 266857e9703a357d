/**
 * The State of the in-process harness (Scenario's `State`): everything a
 * hook can read through hook tools, and what it leaves behind.
 */
import type { Network } from '../model.js';
import type { Status } from '../status.js';

export interface RelationState {
  readonly endpoint: string;
  /** The N of `endpoint:N`. */
  readonly id: number;
  readonly remoteApp: string;
  /** Remote unit name → its settings (relation-list lists these units). */
  readonly remoteUnitsData: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** This unit's own settings on the relation. */
  readonly localUnitData?: Readonly<Record<string, string>>;
}

/** Make a hook tool misbehave, to test how the charm copes. */
export type ToolFault =
  | { readonly kind: 'missing' }
  | { readonly kind: 'exit'; readonly code: number; readonly stderr?: string }
  | { readonly kind: 'stdout'; readonly stdout: string };

export interface State {
  /** Option values set by the operator (defaults come from config.yaml). */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  readonly leader?: boolean;
  /** Binding name → what network-get reports. Unset bindings get DEFAULT_NETWORK. */
  readonly networks?: Readonly<Record<string, Network>>;
  readonly relations?: readonly RelationState[];
  readonly unitStatus?: Status;
  readonly workloadVersion?: string;
  /** Server-side state (state-get / state-set). */
  readonly stored?: Readonly<Record<string, string>>;
  /** Hook tool name → fault. */
  readonly faults?: Readonly<Record<string, ToolFault>>;
}

/** What an unconfigured binding reports (as Scenario does: TEST-NET-1). */
export const DEFAULT_NETWORK: Network = {
  interfaces: [{ name: 'eth0', addresses: [{ address: '192.0.2.0', cidr: '192.0.2.0/24', hostname: '' }] }],
  ingressAddresses: ['192.0.2.0'],
  egressSubnets: ['192.0.2.0/24'],
};

export const UNKNOWN_STATUS: Status = { name: 'unknown', message: '' };

export function relationIdOf(r: RelationState): string {
  return `${r.endpoint}:${r.id}`;
}
