// Scenario 4: drift. First each named perturbation alone (release a member, delete a VRF, delete
// a default route, flip a sysctl, delete the moved local rule of either family, release a member
// that then gets an IPv4 route via an IPv6 next hop), healed by update-status; then randomised
// rounds of perturbations
// (VRF_HOST_DRIFT_COUNT, default 50, in rounds of VRF_HOST_DRIFT_PER_ROUND, default 6 (one per VRF plus the sysctl flips), each round
// healed by one update-status). The seed is printed; VRF_HOST_SEED=N replays it.
import { ipJson, nsRun } from '../lib/exec.mjs';
import { seedFromEnv, seededRandom } from '../lib/random.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';

export const name = 'drift';
export const description = 'update-status heals named and seeded random perturbations';
export const needsCharm = true;
export const timeoutMs = 30 * 60_000;

/**
 * @typedef {{ what: string, argv: string[][] }} Perturbation
 * @typedef {{ name: string, table: number, member: string,
 *   has: { default4: boolean, default6: boolean, unreachable4: boolean } }} Vrf
 */

/**
 * Perturbations of one VRF {name, table, member, has}; each is an argv list run in the unit
 * namespace. Only those the converged host allows are offered (a route deletion only where that
 * route exists), so every perturbation must apply: one that fails fails the scenario.
 * @param {Vrf} v
 * @returns {Perturbation[]}
 */
function perturbationsFor(v) {
  const T = String(v.table);
  // One prefix per VRF: a round may pick this perturbation for two VRFs, and both go into main.
  const rfc5549 = `203.0.113.${(v.table % 16) * 16}/28`;
  return [
    { what: `release ${v.member} from ${v.name}`, argv: [['ip', 'link', 'set', 'dev', v.member, 'nomaster']] },
    { what: `delete VRF ${v.name}`, argv: [['ip', 'link', 'del', 'dev', v.name]] },
    v.has.default4 && {
      what: `delete the IPv4 default route of table ${T}`,
      argv: [['ip', '-4', 'route', 'del', 'default', 'table', T]],
    },
    v.has.default6 && {
      what: `delete the IPv6 default route of table ${T}`,
      argv: [['ip', '-6', 'route', 'del', 'default', 'table', T]],
    },
    v.has.unreachable4 && {
      what: `delete the unreachable IPv4 default of table ${T}`,
      argv: [['ip', '-4', 'route', 'del', 'unreachable', 'default', 'metric', '4278198272', 'table', T]],
    },
    {
      // RFC 5549: the kernel takes an IPv4 route via an IPv6 next hop; ip cannot render it back
      // into a VRF, and the kernel drops it when the member is enslaved again.
      what: `release ${v.member} from ${v.name}, then route ${rfc5549} via inet6 fe80::1 on it`,
      argv: [
        ['ip', 'link', 'set', 'dev', v.member, 'nomaster'],
        ['ip', '-4', 'route', 'add', rfc5549, 'via', 'inet6', 'fe80::1', 'dev', v.member],
      ],
    },
  ].filter((p) => p !== false);
}
/** The local lookup vrf-host moved behind the l3mdev rule, deleted: without it nothing local is delivered. */
const LOCAL_RULE_DELETIONS = [
  { what: 'delete the moved IPv4 local rule (pref 32765)', argv: [['ip', '-4', 'rule', 'del', 'pref', '32765']] },
  { what: 'delete the moved IPv6 local rule (pref 32765)', argv: [['ip', '-6', 'rule', 'del', 'pref', '32765']] },
];
const SYSCTL_FLIPS = [
  { what: 'flip net.ipv4.tcp_l3mdev_accept to 0', argv: [['sysctl', '-qw', 'net.ipv4.tcp_l3mdev_accept=0']] },
  { what: 'flip net.ipv4.udp_l3mdev_accept to 0', argv: [['sysctl', '-qw', 'net.ipv4.udp_l3mdev_accept=0']] },
  { what: 'flip net.ipv4.ip_nonlocal_bind to 0', argv: [['sysctl', '-qw', 'net.ipv4.ip_nonlocal_bind=0']] },
];

/**
 * @param {import('../lib/topology.mjs').Topology} topo
 * @returns {Vrf[]}
 */
function vrfsOf(topo) {
  const links = ipJson(topo.unit, '-details', 'link', 'show');
  /**
   * @param {string} fam
   * @param {number} table
   * @returns {string[]}
   */
  const defaults = (fam, table) =>
    ipJson(topo.unit, fam, '-details', 'route', 'show', 'default', 'table', String(table)).map(
      (r) => r.type ?? 'unicast',
    );
  return links
    .filter((l) => l.linkinfo?.info_kind === 'vrf')
    .map((l) => {
      const table = l.linkinfo.info_data.table;
      const d4 = defaults('-4', table);
      return {
        name: l.ifname,
        table,
        member: links.find((m) => m.master === l.ifname && m.linkinfo?.info_slave_kind === 'vrf')?.ifname,
        has: {
          default4: d4.includes('unicast'),
          default6: defaults('-6', table).includes('unicast'),
          unreachable4: d4.includes('unreachable'),
        },
      };
    })
    .filter((v) => v.member);
}

/**
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {Perturbation} p
 */
function perturb(t, topo, p) {
  for (const argv of p.argv) {
    const r = nsRun(topo.unit, argv, { allowFail: true });
    if (r.code !== 0) throw new Error(`perturbation "${p.what}" failed: \`${argv.join(' ')}\`: ${r.stderr.trim()}`);
  }
}

/**
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {string} fam
 * @returns {number[]}
 */
const localRules = (topo, fam) =>
  ipJson(topo.unit, fam, 'rule', 'show')
    // The catch-all lookup only: the per-address `from ADDRESS lookup local` delivery rules at 98
    // also name the local table.
    .filter((r) => (r.table === 'local' || r.table === '255') && (r.src ?? 'all') === 'all' && r.dst === undefined)
    .map((r) => r.priority);

/**
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {import('../lib/charm.mjs').CharmUnit} unit
 * @param {import('../lib/snapshot.mjs').Snapshot} converged
 * @param {string} label
 */
async function healed(t, topo, unit, converged, label) {
  await hookOk(t, unit, 'update-status');
  const diff = diffSnapshots(converged, snapshot(topo.unit));
  return t.check(`${label}: healed by update-status`, diff.length === 0, diff.slice(0, 6).join(' | '));
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const converged = snapshot(topo.unit);
  const vrfs = vrfsOf(topo);
  if (!t.check('converged host has VRFs with members to perturb', vrfs.length > 0, JSON.stringify(vrfs))) return;
  for (const fam of ['-4', '-6'])
    t.check(
      `converged host (${fam}) has its local lookup moved to 32765, not at 0`,
      JSON.stringify(localRules(topo, fam)) === '[32765]',
      JSON.stringify(localRules(topo, fam)),
    );
  const withDefault = vrfs.find((v) => v.has.default4);
  // Named perturbations, one at a time.
  /** @param {number} i */
  const vrfAt = (i) => {
    const v = vrfs[i % vrfs.length];
    if (!v) throw new Error('no VRF to perturb');
    return v;
  };
  const named = [
    perturbationsFor(vrfAt(0))[0],
    perturbationsFor(vrfAt(1))[1],
    perturbationsFor(withDefault ?? vrfAt(0)).find((p) => p.what.startsWith('delete the IPv4 default')),
    SYSCTL_FLIPS[0],
    ...LOCAL_RULE_DELETIONS,
    perturbationsFor(vrfAt(2)).at(-1),
  ];
  t.check('the named perturbations all apply here', named.every(Boolean), JSON.stringify(vrfs));
  for (const p of named.filter((x) => x !== undefined)) {
    perturb(t, topo, p);
    t.check(`${p.what}: the host did drift`, diffSnapshots(converged, snapshot(topo.unit)).length > 0);
    await healed(t, topo, unit, converged, p.what);
  }
  // Randomised rounds.
  const seed = seedFromEnv();
  const count = Number(process.env.VRF_HOST_DRIFT_COUNT ?? 50);
  const perRound = Math.max(1, Number(process.env.VRF_HOST_DRIFT_PER_ROUND ?? 6));
  t.note(
    `drift seed ${seed} (replay: VRF_HOST_SEED=${seed} npm run test:kernel -- drift), ${count} perturbations, ${perRound} per round`,
  );
  const rnd = seededRandom(seed);
  let done = 0;
  let round = 0;
  while (done < count) {
    round += 1;
    // at most one perturbation per VRF per round (they would collide), plus sysctl flips
    const pool = [
      ...rnd.shuffle(vrfs).map((v) => rnd.pick(perturbationsFor(v))),
      ...rnd.shuffle(SYSCTL_FLIPS),
      ...rnd.shuffle(LOCAL_RULE_DELETIONS),
    ];
    const chosen = rnd.shuffle(pool).slice(0, Math.min(perRound, count - done));
    for (const p of chosen) perturb(t, topo, p);
    const applied = chosen;
    done += chosen.length;
    const ok = await healed(
      t,
      topo,
      unit,
      converged,
      `seed ${seed} round ${round} [${applied.map((p) => p.what).join('; ')}]`,
    );
    if (!ok) {
      t.note(`replay with VRF_HOST_SEED=${seed}`);
      break;
    }
  }
}
