/**
 * The planner's working state: the steps so far, a kernel model that has
 * already run them (so every phase sees the host as it will be at that point),
 * and the ledger being built.
 */
import { KernelModel, KernelModelError, cycleOf } from '../model.js';
import { parseCidr } from '../addr.js';
import type {
  DesiredState,
  DesiredVrf,
  Family,
  Kept,
  Ledger,
  ObservedHost,
  OwnedRule,
  Route,
  RouteTarget,
  Rule,
  RuleTarget,
  Step,
} from '../types.js';
import { FAMILIES, TABLE } from '../types.js';
import { isKernelRoute, keyOfRuleTarget, routeId, routeMatches, ruleKey, slotOfRoute, targetOfRoute } from './keys.js';
import { VrfError } from '../errors.js';

export class PlanError extends VrfError {
  override name = 'PlanError';
}

/** Fast "is this prefix inside one of these subnets" over a set, one lookup per distinct prefix length. */
export class SubnetSet {
  private readonly byLen = new Map<Family, Map<number, Set<string>>>();

  add(cidr: string): void {
    const p = parseCidr(cidr);
    if (!p) return;
    let f = this.byLen.get(p.family);
    if (!f) {
      f = new Map();
      this.byLen.set(p.family, f);
    }
    let s = f.get(p.prefixlen);
    if (!s) {
      s = new Set();
      f.set(p.prefixlen, s);
    }
    s.add(p.cidr);
  }

  /** Is `cidr` equal to or inside one of the subnets? */
  covers(cidr: string): boolean {
    const p = parseCidr(cidr);
    if (!p) return false;
    const f = this.byLen.get(p.family);
    if (!f) return false;
    for (const [len, set] of f) {
      if (len > p.prefixlen) continue;
      const outer = parseCidr(`${p.network}/${len}`);
      if (outer && set.has(outer.cidr)) return true;
    }
    return false;
  }
}

/** A route a cycle of `lower` flushed from `dev`, stacked on it. */
interface Flushed {
  readonly route: Route;
  readonly dev: string;
  readonly lower: string;
}

/** What a step's cycles change on the devices stacked on the cycled ones (PlanContext.stackedOn). */
interface Stacked {
  readonly flushed: readonly Flushed[];
  readonly wasDown: ReadonlyArray<{ readonly dev: string; readonly lower: string }>;
}

export class PlanContext {
  readonly steps: Step[] = [];
  /** What vrf-host keeps once the steps have run (Plan.kept). */
  private readonly keptRoutes: RouteTarget[] = [];
  private readonly keptRules: RuleTarget[] = [];
  readonly model: KernelModel;
  readonly desiredByName: ReadonlyMap<string, DesiredVrf>;
  /** member device → the VRF it belongs in. */
  readonly memberOf: ReadonlyMap<string, DesiredVrf>;
  /** VRF names vrf-host owns now or will own. */
  readonly vrfNames: ReadonlySet<string>;
  /** Tables vrf-host owns now or will own. */
  readonly ownedTables: ReadonlySet<number>;
  readonly desiredTables: ReadonlySet<number>;
  /** Subnets of every desired member address (what gets enslaved). */
  readonly enslavedSubnets = new SubnetSet();
  readonly anyVrf: boolean;
  /**
   * The protocol of the routes and rules vrf-host adds: `static` where systemd-networkd runs,
   * because networkd is handed the same routes and rules (src/vrf/networkd) and installs
   * them as `static`; with ip's defaults (`boot`, `unspec`) the kernel would hold two copies
   * of each rule (it tells rules apart by protocol) and networkd would drop ours as foreign.
   */
  readonly protocol: string | undefined;

  readonly migratedRoutes = new Map<string, Route>();
  readonly migratedRules = new Map<string, Rule>();
  readonly sysctlsBefore: Record<string, string | null>;
  localRuleMoved: boolean;
  /** Families whose l3mdev rule vrf-host brought (see Ledger.l3mdevRuleAdded). */
  readonly l3mdevRuleAdded: Set<Family>;
  /** ruleKey of every rule the ledger says vrf-host added (Ledger.ownedRules). */
  readonly ownedRuleKeys: ReadonlySet<string>;

  constructor(
    readonly desired: DesiredState,
    observed: ObservedHost,
    readonly ledger: Ledger,
  ) {
    this.model = new KernelModel(observed);
    this.desiredByName = new Map(desired.vrfs.map((v) => [v.name, v]));
    const memberOf = new Map<string, DesiredVrf>();
    for (const v of desired.vrfs) {
      for (const m of v.members) {
        const other = memberOf.get(m);
        if (other && other.name !== v.name)
          throw new PlanError(`interface ${m} is a member of both ${other.name} and ${v.name}`);
        memberOf.set(m, v);
      }
      for (const a of v.addresses) this.enslavedSubnets.add(a.subnet);
    }
    this.memberOf = memberOf;
    this.vrfNames = new Set([...Object.keys(ledger.vrfs), ...desired.vrfs.map((v) => v.name)]);
    this.desiredTables = new Set(desired.vrfs.map((v) => v.table));
    this.ownedTables = new Set([...Object.values(ledger.vrfs), ...this.desiredTables]);
    this.anyVrf = desired.vrfs.length > 0;
    this.protocol = observed.networkdRuns === true ? 'static' : undefined;
    for (const r of ledger.migratedRoutes) this.migratedRoutes.set(routeId(r), r);
    for (const r of ledger.migratedRules) this.migratedRules.set(ruleKey(r.family, r.priority, r.src, r.table), r);
    this.sysctlsBefore = { ...ledger.sysctlsBefore };
    this.localRuleMoved = ledger.localRuleMoved;
    this.l3mdevRuleAdded = new Set(ledger.l3mdevRuleAdded ?? []);
    this.ownedRuleKeys = new Set(
      ledger.ownedRules.map((r) => ruleKey(r.family, r.priority, r.src ?? null, r.table, r.dst ?? null)),
    );
  }

  /**
   * Adds a step and runs it on the model; a step the kernel would refuse is a planner bug. A step
   * that cycles a device (enslave, release, deleting a VRF with members) is followed at once by
   * the routes the cycle flushed from the devices stacked on it (restack).
   */
  emit(step: Step, slot?: string): void {
    const stacked = this.stackedOn(step);
    try {
      this.model.apply(step, slot);
    } catch (e) {
      if (e instanceof KernelModelError)
        throw new PlanError(`internal: planned step ${step.kind} cannot run: ${e.message}`, { cause: e });
      throw e;
    }
    this.steps.push(step);
    this.restack(stacked);
  }

  /** The devices a step cycles itself: the one it enslaves or releases, or the members of a VRF it deletes. */
  private cycledBy(step: Step): string[] {
    switch (step.kind) {
      case 'enslave':
      case 'release':
        return [step.dev];
      case 'vrf-delete':
      case 'vrf-replace':
        return this.model
          .allLinks()
          .filter((l) => l.master === step.name)
          .map((l) => l.name);
      default:
        return [];
    }
  }

  /**
   * What the kernel will change, and not put back, when `step` runs, on the devices that go down
   * and up with a cycled one (model.ts cycleOf: the VLANs on it): the routes through them that are
   * not the kernel's own, and those that were down (the kernel brings them up). The cycled devices'
   * own routes are not among them: the enslave carries them into the VRF and a release gives them
   * back (structure.ts, routing.ts).
   */
  private stackedOn(step: Step): Stacked {
    const cycled = this.cycledBy(step);
    const out: { flushed: Flushed[]; wasDown: Array<{ dev: string; lower: string }> } = { flushed: [], wasDown: [] };
    if (cycled.length === 0) return out;
    const links = this.model.allLinks();
    for (const lower of cycled) {
      const c = cycleOf(links, lower);
      for (const dev of c.up) {
        if (cycled.includes(dev)) continue;
        if (!c.down.includes(dev)) {
          // A member of a desired VRF is brought up by the plan anyway (structure.ts enslaveMembers).
          if (!this.memberOf.has(dev)) out.wasDown.push({ dev, lower });
          continue;
        }
        for (const r of this.model.routesVia(dev)) {
          if (isKernelRoute(r) || r.type !== 'unicast' || r.table === TABLE.local) continue;
          // An IPv4 route via an IPv6 next hop (RFC 5549) cannot be rendered back: left to its owner.
          if (r.gateway !== null && r.gateway.includes(':') !== (r.family === 'inet6')) continue;
          out.flushed.push({ route: r, dev, lower });
        }
      }
    }
    return out;
  }

  /** Puts back what a cycle changed on the devices stacked on the cycled one: down what was down, then the flushed routes. */
  private restack({ flushed, wasDown }: Stacked): void {
    for (const { dev, lower } of wasDown) {
      if (this.model.link(dev)?.up !== true) continue;
      this.emit({
        kind: 'link-down',
        dev,
        why: `${dev} was down: the kernel brought it up with ${lower}; put back down`,
        withCycle: true,
      });
    }
    for (const { route: r, dev, lower } of flushed) {
      const t = targetOfRoute(r);
      if (this.model.slot(slotOfRoute(r)).some((x) => routeMatches(x, t))) continue;
      if (this.model.link(dev)?.up !== true) continue;
      this.emit({
        kind: 'route-add',
        route: t,
        why: `${dev} went down and up with ${lower}: the kernel flushed ${r.dst} via ${dev} from table ${r.table}; put back as it was`,
        withCycle: true,
      });
    }
  }

  /** A route or rule vrf-host adds, with the protocol it adds it with. */
  own<T extends RouteTarget | RuleTarget>(t: T): T {
    return this.protocol === undefined ? t : { ...t, protocol: this.protocol };
  }

  keepRoute(t: RouteTarget): void {
    this.keptRoutes.push(t);
  }

  keepRule(t: RuleTarget): void {
    this.keptRules.push(t);
  }

  kept(): Kept {
    return { routes: [...this.keptRoutes], rules: [...this.keptRules] };
  }

  ledgerAfter(): Ledger {
    return {
      vrfs: Object.fromEntries(this.desired.vrfs.map((v) => [v.name, v.table])),
      migratedRoutes: [...this.migratedRoutes.values()],
      migratedRules: [...this.migratedRules.values()],
      localRuleMoved: this.localRuleMoved,
      sysctlsBefore: { ...this.sysctlsBefore },
      // Only when there is something to say: a ledger without it is the EMPTY_LEDGER it always was.
      ...(this.l3mdevRuleAdded.size > 0
        ? { l3mdevRuleAdded: FAMILIES.filter((f) => this.l3mdevRuleAdded.has(f)) }
        : {}),
      ownedRules: this.ownedRulesAfter(),
    };
  }

  /** The rules vrf-host keeps after this plan, once each: what the next run (of any version) owns. */
  private ownedRulesAfter(): OwnedRule[] {
    const out = new Map<string, OwnedRule>();
    for (const t of this.keptRules) {
      if (t.l3mdev === true) continue; // the l3mdev rule is the kernel's (l3mdevRuleAdded says when it is ours)
      out.set(keyOfRuleTarget(t), {
        family: t.family,
        priority: t.priority,
        ...(t.src === undefined ? {} : { src: t.src }),
        ...(t.dst === undefined ? {} : { dst: t.dst }),
        table: t.table,
        ...(t.protocol === undefined ? {} : { protocol: t.protocol }),
      });
    }
    return [...out.values()];
  }
}
