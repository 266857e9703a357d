// Upgrade: the unit runs the charm as it was packed at UPGRADE_FROM (install + config-changed),
// then Juju's upgrade: the charm directory's files are replaced by this checkout's packed charm and
// upgrade-charm, config-changed and update-status run. The probe loop keeps connecting (every
// 200 ms) from each space's remote peer to the unit and from the unit to the controller all along:
// no connection may fail. The state the old charm wrote is carried on by the new one, the
// boot unit moves to the new charm's scheme, and stop + remove give back the host of before install.
// The old charm wrote a version-1 state file (no rule list, the options at the top of the desired
// state); the new one rewrites it as version 2, listing every rule it owns. Then, as a later
// version that put its source rules at another priority would leave the host, those rules are
// moved to 97 on the host and in the ledger: stop + remove still give back the host of before,
// because teardown finds its rules through the ledger, not through its own priorities.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CHARM_FILE } from '../lib/charm.mjs';
import { ipJson, ipn, run as sh, sleep } from '../lib/exec.mjs';
import { oldCharmFile } from '../lib/old-charm.mjs';
import { startProbeLoop } from '../lib/probeloop.mjs';
import { deployMultiHomed, hookOk, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { snapshot } from '../lib/snapshot.mjs';

export const name = 'upgrade';
/** main when this scenario was written: the charm an operator upgrades from. */
export const upgradeFrom = 'ae5e0fcea8a3beb694396726e693b53bed85668b';
export const description =
  `upgrade-charm from the charm packed at ${upgradeFrom.slice(0, 7)}: state carried on, traffic` +
  ` never stops, teardown exact`;
export const needsCharm = true;
export const timeoutMs = 10 * 60_000;

const STATE_FILE = '/var/lib/vrf-host/state.json';
const UNIT_FILE = '/etc/systemd/system/vrf-host.service';
const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const old = oldCharmFile(upgradeFrom);
  t.check(`the charm of ${upgradeFrom.slice(0, 7)} was packed on the host`, existsSync(old), old);
  if (!existsSync(old)) return;
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS }, { charmFile: old });
  const before = snapshot(topo.unit);
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const oldState = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
  const oldVrfs = oldState.desired.vrfs
    .map((/** @type {{ name: string, table: number }} */ v) => `${v.name}:${v.table}`)
    .sort();

  // The probe loop (lib/probeloop.mjs): a connect every 200 ms per space, inbound from its remote
  // peer, and to the controller.
  const loop = await startProbeLoop(topo);
  try {
    t.check(
      'before the upgrade every target answers',
      await loop.allAnswer({ forMs: 1000 }),
      JSON.stringify(loop.recent()),
    );
    loop.mark('old charm');
    await sleep(1000);
    // Juju's upgrade: the new revision's files replace the old ones, then upgrade-charm runs.
    loop.mark('upgrade');
    rmSync(unit.charmDir, { recursive: true, force: true });
    mkdirSync(unit.charmDir, { recursive: true });
    sh(['unzip', '-q', '-o', CHARM_FILE, '-d', unit.charmDir], { timeoutMs: 300_000 });
    await hookOk(t, unit, 'upgrade-charm');
    await hookOk(t, unit, 'config-changed');
    const us = await unit.hook('update-status');
    t.check(
      'update-status after the upgrade: exit 0, active',
      us.exitCode === 0 && us.record.status.status === 'active',
      us.record.status.message,
    );
    loop.mark('new charm');
    await sleep(1000);
    await loop.settle();
  } finally {
    await loop.stop();
  }
  t.table('probe loop: failed/sent per target', loop.report());
  for (const m of ['old charm', 'upgrade', 'new charm'])
    for (const [target, w] of Object.entries(loop.failed(m)))
      t.check(
        `${m}: no ${target} probe failed`,
        w.sent > 0 && w.failed === 0,
        `${w.failed}/${w.sent} ${w.errors.join('; ')}`,
      );

  const newState = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
  const newVrfs = newState.desired.vrfs
    .map((/** @type {{ name: string, table: number }} */ v) => `${v.name}:${v.table}`)
    .sort();
  t.check(
    'the new charm carries on the old state: the same VRFs and tables',
    JSON.stringify(newVrfs) === JSON.stringify(oldVrfs),
    `${oldVrfs.join(' ')} → ${newVrfs.join(' ')}`,
  );
  t.check(
    'the old charm wrote a version-1 state file (no rule list, the options at the top of its desired state)',
    oldState.version === 1 && 'strict' in oldState.desired && !('ownedRules' in oldState.ledger),
    JSON.stringify({ version: oldState.version, ledger: Object.keys(oldState.ledger) }),
  );
  /** @type {{ family: string, priority: number, src?: string, dst?: string, table: number, protocol?: string }[]} */
  const owned = newState.ledger.ownedRules ?? [];
  const onHost = rulesOnHost(topo.unit);
  const missing = owned.filter((r) => !onHost.has(ownedKey(r)));
  t.check(
    'the new charm rewrote it as version 2, listing the rules it owns: source rules and the moved local lookup, all on the host',
    newState.version === 2 &&
      owned.some((r) => r.priority === 99 && r.src !== undefined) &&
      owned.some((r) => r.priority === 32765 && r.table === 255) &&
      missing.length === 0,
    `version ${newState.version}, ${owned.length} owned rules, not on the host: ${JSON.stringify(missing)}`,
  );

  // A later version's priority for the same rules: 97 on the host and in the ledger.
  const moved = owned.filter((r) => r.priority === 99 && r.src !== undefined);
  // IPv6 rule lines need an `ip -6` process: one ip call per rule, added at 97 before the 99 goes.
  for (const r of moved) {
    const fam = r.family === 'inet6' ? ['-6'] : [];
    const sel = ['from', /** @type {string} */ (r.src), 'lookup', String(r.table)];
    ipn(topo.unit, ...fam, 'rule', 'add', 'pref', '97', ...sel, ...(r.protocol ? ['protocol', r.protocol] : []));
    ipn(topo.unit, ...fam, 'rule', 'del', 'pref', '99', ...sel);
  }
  writeFileSync(
    STATE_FILE,
    JSON.stringify({
      ...newState,
      ledger: { ...newState.ledger, ownedRules: owned.map((r) => (moved.includes(r) ? { ...r, priority: 97 } : r)) },
    }),
  );
  t.check(
    `${moved.length} source rules now sit at 97, none at 99`,
    moved.length > 0 &&
      [...rulesOnHost(topo.unit)].filter((k) => k.startsWith('97|')).length === moved.length &&
      ![...rulesOnHost(topo.unit)].some((k) => k.startsWith('99|')),
  );
  t.check(
    "the boot unit now runs vrf-host's own copy of node",
    /^ExecStart=\/var\/lib\/vrf-host\/bin\/node /m.test(readFileSync(UNIT_FILE, 'utf8')),
    readFileSync(UNIT_FILE, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ExecStart=')),
  );

  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(
    t,
    topo.unit,
    before,
    'after stop + remove the snapshot equals the one before the old charm was installed',
  );
  t.check(
    'no vrf-host file is left under /var/lib/vrf-host/bin or /etc/systemd',
    !existsSync('/var/lib/vrf-host/bin') && !existsSync(UNIT_FILE),
  );
}

/**
 * The host's rules of both families as `PRIORITY|FROM|TO|TABLE` keys.
 * @param {string} ns
 */
function rulesOnHost(ns) {
  /** @type {Set<string>} */
  const keys = new Set();
  for (const fam of [[], ['-6']])
    for (const r of ipJson(ns, '-Numeric', ...fam, 'rule', 'show')) {
      // ip prints no prefix length for a host address (a /32 or /128).
      const full = fam.length > 0 ? 128 : 32;
      const from = r.src === undefined || r.src === 'all' ? 'all' : `${r.src}/${r.srclen ?? full}`;
      const to = r.dst === undefined || r.dst === 'all' ? 'all' : `${r.dst}/${r.dstlen ?? full}`;
      keys.add(`${r.priority}|${from}|${to}|${r.table}`);
    }
  return keys;
}

/**
 * An owned rule of the ledger as rulesOnHost keys it.
 * @param {{ priority: number, src?: string, dst?: string, table: number }} r
 */
function ownedKey(r) {
  return `${r.priority}|${r.src ?? 'all'}|${r.dst ?? 'all'}|${r.table}`;
}
