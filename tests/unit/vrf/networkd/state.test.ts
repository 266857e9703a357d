import {
  ifupdownListsLink,
  jujuBridgeFile,
  jujuBridgeName,
  matchesOnlyLink,
  matchNames,
  parseEnvFile,
  parseNetworkdLink,
  parseNetworkManagerDevice,
} from '../../../../src/vrf/networkd/state.js';

// As networkd 252 writes /run/systemd/netif/links/<ifindex> (recorded in the kernel suite's VM).
const CONFIGURED = `# This is private data. Do not parse.
ADMIN_STATE=configured
OPER_STATE=routable
CARRIER_STATE=carrier
ADDRESS_STATE=routable
IPV4_ADDRESS_STATE=routable
IPV6_ADDRESS_STATE=degraded
ONLINE_STATE=online
REQUIRED_FOR_ONLINE=yes
REQUIRED_OPER_STATE_FOR_ONLINE=degraded
REQUIRED_FAMILY_FOR_ONLINE=any
ACTIVATION_POLICY=up
NETWORK_FILE=/run/systemd/network/10-netplan-ens4.network
DNS=
NTP=
`;

describe('networkd link state files', () => {
  it('reads ADMIN_STATE and NETWORK_FILE', () => {
    expect(parseNetworkdLink(CONFIGURED)).toEqual({
      name: 'systemd-networkd',
      adminState: 'configured',
      networkFile: '/run/systemd/network/10-netplan-ens4.network',
    });
  });

  it("an unmanaged link is not networkd's", () => {
    expect(parseNetworkdLink('ADMIN_STATE=unmanaged\nOPER_STATE=carrier\n')).toBeNull();
  });

  it('a link being configured, with no file yet', () => {
    expect(parseNetworkdLink('ADMIN_STATE=pending\n')).toEqual({
      name: 'systemd-networkd',
      adminState: 'pending',
      networkFile: null,
    });
  });

  it("a half-written or foreign file is not networkd's", () => {
    expect(parseNetworkdLink('')).toBeNull();
    expect(parseNetworkdLink('ADMIN_STATE=Configured Now\n')).toBeNull();
  });

  it('a relative NETWORK_FILE names no file', () => {
    expect(parseNetworkdLink('ADMIN_STATE=configured\nNETWORK_FILE=x.network\n')?.networkFile).toBeNull();
  });

  it('parseEnvFile keeps the last assignment and skips comments', () => {
    expect(parseEnvFile('# c\nA=1\nB=x=y\nA=2\n')).toEqual({ A: '2', B: 'x=y' });
  });
});

describe('NetworkManager and ifupdown', () => {
  it('NetworkManager device file: managed=true only', () => {
    expect(parseNetworkManagerDevice('[device]\nmanaged=true\nperm-hw-addr-fake=\n')).toBe(true);
    expect(parseNetworkManagerDevice('[device]\nmanaged=false\n')).toBe(false);
  });

  it('ifupdown state lists the link', () => {
    expect(ifupdownListsLink('ens3=ens3\nbond0=bond0\n', 'bond0')).toBe(true);
    expect(ifupdownListsLink('ens3=ens3\n', 'ens4')).toBe(false);
  });
});

describe('.network [Match]', () => {
  it('Name= values add up; an empty one clears them; other sections do not count', () => {
    const text = '[Match]\nName=ens4\nName=ens5 ens6\n\n[Network]\nName=x\n';
    expect(matchNames(text)).toEqual({ names: ['ens4', 'ens5', 'ens6'], otherKeys: [] });
    expect(matchNames('[Match]\nName=a\nName=\nName=b\nMACAddress=00:11:22:33:44:55\n')).toEqual({
      names: ['b'],
      otherKeys: ['MACAddress'],
    });
  });

  it('a drop-in only goes on a file that names exactly this link', () => {
    expect(matchesOnlyLink('[Match]\nName=ens4\n\n[Network]\nAddress=10.10.4.10/24\n', 'ens4')).toBe(true);
    // netplan's match by MAC (a VLAN shares its parent's MAC), a glob, a list, another name:
    expect(matchesOnlyLink('[Match]\nMACAddress=52:54:00:12:34:56\n', 'ens4')).toBe(false);
    expect(matchesOnlyLink('[Match]\nName=ens*\n', 'ens4')).toBe(false);
    expect(matchesOnlyLink('[Match]\nName=ens4 ens5\n', 'ens4')).toBe(false);
    expect(matchesOnlyLink('[Match]\nName=ens5\n', 'ens4')).toBe(false);
  });
});

describe('the file of the bridge Juju would make of a member', () => {
  it("is netplan's name for br-<member>, next to the member's own netplan file", () => {
    expect(jujuBridgeFile('/run/systemd/network/10-netplan-bond0.network', 'bond0')).toBe(
      '/run/systemd/network/10-netplan-br-bond0.network',
    );
    expect(jujuBridgeFile('/run/systemd/network/10-netplan-bond0.105.network', 'bond0.105')).toBe(
      '/run/systemd/network/10-netplan-br-bond0.105.network',
    );
  });

  it("none for a file that is not netplan's own for that member, or a bridge name too long", () => {
    expect(jujuBridgeFile('/etc/systemd/network/20-storage.network', 'bond0')).toBeNull();
    expect(jujuBridgeFile('/run/systemd/network/10-netplan-bond0.network', 'bond1')).toBeNull();
    expect(jujuBridgeFile('/run/systemd/network/10-netplan-enp101s0f1np1.network', 'enp101s0f1np1')).toBeNull();
    expect(jujuBridgeName('enp101s0f1np1')).toBeNull();
    expect(jujuBridgeName('ens5')).toBe('br-ens5');
  });
});
