/** check-gateways: ping each gateway from inside its VRF. */
import { ipVrfExec, runPing } from '../ip.js';
import type { DesiredState, Family } from '../types.js';
import { parseIp } from '../addr.js';
import { validVrfName } from '../names.js';
import { EngineError, type EngineOptions } from './host.js';
import { loadState } from './converge.js';

// ---------------------------------------------------------------------------
// Gateway checks
// ---------------------------------------------------------------------------

export interface ProbeResult {
  readonly vrf: string;
  readonly family: Family;
  readonly target: string;
  readonly kind: 'gateway' | 'target';
  readonly reachable: boolean;
  readonly transmitted: number | null;
  readonly received: number | null;
  readonly lossPercent: number | null;
  readonly rttMs: { readonly min: number; readonly avg: number; readonly max: number } | null;
  /** Set when ping could not run or said nothing parseable (the probe still "succeeds"). */
  readonly error: string | null;
}

/** A target that gave no answer: what ping could not run or said, as `error`. */
function unanswered(t: Pick<ProbeResult, 'vrf' | 'family' | 'target' | 'kind'>, error: string): ProbeResult {
  return { ...t, reachable: false, transmitted: null, received: null, lossPercent: null, rttMs: null, error };
}

/** Parses ping's summary lines (iputils and busybox). */
export function parsePing(
  stdout: string,
): Pick<ProbeResult, 'transmitted' | 'received' | 'lossPercent' | 'rttMs'> | null {
  const m =
    /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+\d+ (?:errors|duplicates))*, ([\d.]+)% packet loss/.exec(
      stdout,
    );
  if (!m) return null;
  const rtt = /(?:rtt|round-trip) min\/avg\/max(?:\/(?:mdev|stddev))? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(stdout);
  return {
    transmitted: Number(m[1]),
    received: Number(m[2]),
    lossPercent: Number(m[3]),
    rttMs: rtt ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) } : null,
  };
}

export interface CheckGatewaysOptions extends EngineOptions {
  /** Default: the last applied desired state. */
  readonly desired?: DesiredState;
  /** Only this VRF (and where `target` is probed). */
  readonly vrf?: string;
  /** A further address to probe from `vrf`. */
  readonly target?: string;
  readonly count?: number;
}

export async function checkGateways(o: CheckGatewaysOptions = {}): Promise<ProbeResult[]> {
  let desired = o.desired ?? null;
  if (desired === null) {
    const { state, problem } = await loadState(o.root);
    if (problem) throw new EngineError(problem.message);
    desired = state?.desired ?? null;
  }
  const vrfs = desired?.vrfs ?? [];
  if (o.vrf !== undefined && !vrfs.some((v) => v.name === o.vrf)) {
    throw new EngineError(
      `vrf: ${JSON.stringify(o.vrf)} is not one of vrf-host's VRFs (${vrfs.map((v) => v.name).join(', ') || 'none'})`,
    );
  }
  if (o.target !== undefined && o.vrf === undefined) throw new EngineError('target: needs vrf (the VRF to probe from)');
  const targets: { vrf: string; family: Family; target: string; kind: ProbeResult['kind'] }[] = [];
  for (const v of vrfs) {
    if (o.vrf !== undefined && v.name !== o.vrf) continue;
    for (const fam of ['inet', 'inet6'] as const) {
      const g = v.gateways[fam];
      if (g) targets.push({ vrf: v.name, family: fam, target: g.address, kind: 'gateway' });
    }
  }
  if (o.target !== undefined) {
    const ip = parseIp(o.target);
    if (ip === null) throw new EngineError(`target: ${JSON.stringify(o.target)} is not an IP address`);
    targets.push({
      vrf: o.vrf!,
      family: ip.kind() === 'ipv4' ? 'inet' : 'inet6',
      target: ip.toString(),
      kind: 'target',
    });
  }
  const count = String(o.count ?? 3);
  const results: ProbeResult[] = [];
  for (const t of targets) {
    if (!validVrfName(t.vrf) || parseIp(t.target) === null) {
      results.push(unanswered(t, 'invalid VRF name or address'));
      continue;
    }
    const pingArgs = [...(t.family === 'inet6' ? ['-6'] : []), '-c', count, '-W', '1', t.target];
    const timeoutMs = (Number(count) + 5) * 1000;
    const r = await ipVrfExec(t.vrf, ['ping', ...pingArgs], { ...o, timeoutMs });
    let parsed = parsePing(r.stdout);
    let error = r.stderr.trim() || `ip vrf exec: exited ${r.exitCode}`;
    if (parsed === null) {
      // `ip vrf exec` needs cgroup2 and BPF, which containers often refuse: bind ping to the VRF device instead.
      const r2 = await runPing(['-I', t.vrf, ...pingArgs], { ...o, timeoutMs });
      parsed = parsePing(r2.stdout);
      error = `${error}; ping -I ${t.vrf}: ${r2.stderr.trim() || `exited ${r2.exitCode}`}`;
    }
    if (parsed === null) {
      results.push(unanswered(t, error));
    } else {
      results.push({ ...t, ...parsed, reachable: (parsed.received ?? 0) > 0, error: null });
    }
  }
  return results;
}
