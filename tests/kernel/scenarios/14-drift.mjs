// Scenario 4: drift. First each named perturbation alone (release a member, delete a VRF, delete
// a default route, flip a sysctl), healed by update-status; then randomised rounds of perturbations
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

/** Perturbations of one VRF {name, table, member}; each is an argv list run in the unit namespace. */
function perturbationsFor(v) {
  return [
    { what: `release ${v.member} from ${v.name}`, argv: [['ip', 'link', 'set', 'dev', v.member, 'nomaster']] },
    { what: `delete VRF ${v.name}`, argv: [['ip', 'link', 'del', 'dev', v.name]] },
    {
      what: `delete the IPv4 default route of table ${v.table}`,
      argv: [['ip', '-4', 'route', 'del', 'default', 'table', String(v.table)]],
      optional: true,
    },
    {
      what: `delete the IPv6 default route of table ${v.table}`,
      argv: [['ip', '-6', 'route', 'del', 'default', 'table', String(v.table)]],
      optional: true,
    },
    {
      what: `delete the unreachable IPv4 default of table ${v.table}`,
      argv: [['ip', '-4', 'route', 'del', 'unreachable', 'default', 'metric', '4278198272', 'table', String(v.table)]],
      optional: true,
    },
  ];
}
const SYSCTL_FLIPS = [
  { what: 'flip net.ipv4.tcp_l3mdev_accept to 0', argv: [['sysctl', '-qw', 'net.ipv4.tcp_l3mdev_accept=0']] },
  { what: 'flip net.ipv4.udp_l3mdev_accept to 0', argv: [['sysctl', '-qw', 'net.ipv4.udp_l3mdev_accept=0']] },
  { what: 'flip net.ipv4.ip_nonlocal_bind to 0', argv: [['sysctl', '-qw', 'net.ipv4.ip_nonlocal_bind=0']] },
];

function vrfsOf(topo) {
  const links = ipJson(topo.unit, '-details', 'link', 'show');
  return links
    .filter((l) => l.linkinfo?.info_kind === 'vrf')
    .map((l) => ({
      name: l.ifname,
      table: l.linkinfo.info_data.table,
      member: links.find((m) => m.master === l.ifname && m.linkinfo?.info_slave_kind === 'vrf')?.ifname,
    }))
    .filter((v) => v.member);
}

function perturb(t, topo, p) {
  for (const argv of p.argv) {
    const r = nsRun(topo.unit, argv, { allowFail: true });
    if (r.code !== 0 && !p.optional) throw new Error(`perturbation "${p.what}" failed: ${r.stderr.trim()}`);
    if (r.code !== 0) return false;
  }
  return true;
}

async function healed(t, topo, unit, converged, label) {
  await hookOk(t, unit, 'update-status');
  const diff = diffSnapshots(converged, snapshot(topo.unit));
  return t.check(`${label}: healed by update-status`, diff.length === 0, diff.slice(0, 6).join(' | '));
}

export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const converged = snapshot(topo.unit);
  const vrfs = vrfsOf(topo);
  if (!t.check('converged host has VRFs with members to perturb', vrfs.length > 0, JSON.stringify(vrfs))) return;
  // Named perturbations, one at a time.
  const named = [
    perturbationsFor(vrfs[0])[0],
    perturbationsFor(vrfs[1 % vrfs.length])[1],
    perturbationsFor(vrfs[2 % vrfs.length])[2],
    SYSCTL_FLIPS[0],
  ];
  for (const p of named) {
    if (!perturb(t, topo, p)) continue;
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
    const pool = [...rnd.shuffle(vrfs).map((v) => rnd.pick(perturbationsFor(v))), ...rnd.shuffle(SYSCTL_FLIPS)];
    const chosen = rnd.shuffle(pool).slice(0, Math.min(perRound, count - done));
    const applied = chosen.filter((p) => perturb(t, topo, p));
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
