import { parseSystemctlShow, type UnitShow } from '../../../../src/vrf/services/unit-state.js';

/** One systemctl show output of systemd 252 for chrony.service (properties in SHOW_PROPERTIES order). */
export const CHRONY_SHOW = `Id=chrony.service
LoadState=loaded
ActiveState=active
MainPID=612
Type=forking
FragmentPath=/lib/systemd/system/chrony.service
DropInPaths=/etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf /run/systemd/system/chrony.service.d/x.conf
User=
DynamicUser=no
ProtectControlGroups=no
PrivateNetwork=no
NetworkNamespacePath=
RootDirectory=
RootImage=
Before=multi-user.target shutdown.target time-sync.target
`;

export function show(over: Partial<UnitShow> = {}): UnitShow {
  const r = parseSystemctlShow(CHRONY_SHOW);
  if (!r.ok) throw new Error(r.problem);
  return { ...r.unit, ...over };
}
