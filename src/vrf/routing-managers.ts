/**
 * Other managers of policy routing on the host. vrf-host moves and removes policy rules and
 * routes; so do these charms, from their own hooks, and each would undo the other on every
 * run. When one of them is on the host, vrf-host applies nothing and says which.
 *
 * What each leaves on the host while it is in use (from their sources):
 *  - charm-advanced-routing: its rule/route script linked as
 *    /etc/networkd-dispatcher/routable.d/95-juju_routing (Ubuntu >= 18.04; before that
 *    /etc/network/if-up.d/95-juju_routing), and its table names in
 *    /etc/iproute2/rt_tables.d/juju-managed.conf. Its removal deletes these three (it leaves
 *    /usr/lib/systemd/networkd.conf.d/95-juju-networkd.conf and the empty
 *    /usr/local/lib/juju-charm-advanced-routing behind, so those are no sign it is in use).
 *  - charm-policy-routing (its predecessor): the oneshot
 *    /etc/systemd/system/charm-pre-install-policy-routing.service, which charm-advanced-routing
 *    itself refuses to run next to.
 * MAAS's own source routing (tables 1..N, `from SUBNET lookup N pref 100`) is no other
 * manager: vrf-host migrates and restores those rules.
 */
import { exists as pathExists } from './files.js';
import { under } from './persist.js';
import type { Problem } from './types.js';

export interface RoutingManager {
  readonly name: string;
  /** Files (relative to the root) any one of which means it is in use. */
  readonly paths: readonly string[];
}

export const OTHER_ROUTING_MANAGERS: readonly RoutingManager[] = [
  {
    name: 'charm-advanced-routing',
    paths: [
      'etc/networkd-dispatcher/routable.d/95-juju_routing',
      'etc/network/if-up.d/95-juju_routing',
      'etc/iproute2/rt_tables.d/juju-managed.conf',
    ],
  },
  { name: 'charm-policy-routing', paths: ['etc/systemd/system/charm-pre-install-policy-routing.service'] },
];

async function exists(path: string): Promise<boolean> {
  return pathExists(path);
}

/** One problem per other manager found: which, and the file that shows it. */
export async function otherRoutingManagers(root: string | undefined): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const m of OTHER_ROUTING_MANAGERS) {
    const found: string[] = [];
    for (const p of m.paths) if (await exists(under(root, p))) found.push(`/${p}`);
    if (found.length === 0) continue;
    problems.push({
      field: 'host',
      message:
        `${m.name} manages policy routing on this host (${found.join(', ')}); ` +
        `it and vrf-host would undo each other's rules and routes: remove ${m.name} from this machine first; nothing was applied`,
    });
  }
  return problems;
}
