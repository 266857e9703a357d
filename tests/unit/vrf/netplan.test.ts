import { netplanGatewayFor, parseNetplanGateways } from '../../../src/vrf/netplan.js';

// As cloud-init writes it on a MAAS node with a Juju bridge (Juju's netplan bridger moves the
// addresses and gateway from ens4 to br-ens4).
const jujuBridged = `network:
  version: 2
  ethernets:
    ens3:
      addresses: [10.0.0.5/24]
      gateway4: 10.0.0.1
      match: {macaddress: '52:54:00:00:00:03'}
      set-name: ens3
    enp1s0:
      match: {macaddress: '52:54:00:00:00:04'}
      set-name: ens4
      gateway6: 2001:db8:16::1
  bridges:
    br-ens4:
      interfaces: [ens4]
      addresses: [172.16.0.5/24]
      routes:
      - to: 0.0.0.0/0
        via: 172.16.0.1
        metric: 300
      - to: 0.0.0.0/0
        via: 172.16.0.2
        metric: 100
      - to: 10.30.0.0/16
        via: 172.16.0.254
      parameters: {forward-delay: 0, stp: false}
`;

describe('parseNetplanGateways', () => {
  it('finds gateway4/gateway6 and default routes, with their place in the file', () => {
    const r = parseNetplanGateways({ '50-cloud-init.yaml': jujuBridged });
    expect(r.warnings).toEqual([]);
    expect(r.gateways.map((g) => [g.file, g.id, g.setName, g.family, g.address, g.where, g.metric])).toEqual([
      ['/etc/netplan/50-cloud-init.yaml', 'ens3', 'ens3', 'inet', '10.0.0.1', 'ethernets.ens3.gateway4', null],
      [
        '/etc/netplan/50-cloud-init.yaml',
        'enp1s0',
        'ens4',
        'inet6',
        '2001:db8:16::1',
        'ethernets.enp1s0.gateway6',
        null,
      ],
      ['/etc/netplan/50-cloud-init.yaml', 'br-ens4', null, 'inet', '172.16.0.1', 'bridges.br-ens4.routes[0]', 300],
      ['/etc/netplan/50-cloud-init.yaml', 'br-ens4', null, 'inet', '172.16.0.2', 'bridges.br-ens4.routes[1]', 100],
    ]);
  });
  it('warns about bad files and values instead of failing', () => {
    const r = parseNetplanGateways({
      'a.yaml': 'network: {ethernets: {ens3: {gateway4: banana}}}',
      'b.yaml': 'network: {ethernets: {ens3: {gateway4: "2001:db8::1"}}}',
      'c.yaml': '- not\n- netplan',
      'd.yaml': 'network: {ethernets: {ens3: 5}}',
      'e.yaml': 'network:\n\tversion: 2',
    });
    expect(r.gateways).toEqual([]);
    expect(r.warnings.map((w) => `${w.field}: ${w.message}`)).toEqual([
      'netplan: /etc/netplan/a.yaml: ethernets.ens3.gateway4: "banana" is not an IP address; ignored',
      'netplan: /etc/netplan/b.yaml: ethernets.ens3.gateway4: 2001:db8::1 is not IPv4; ignored',
      'netplan: /etc/netplan/c.yaml: is not a netplan document; file ignored for gateways',
      'netplan: /etc/netplan/d.yaml: ethernets.ens3 is not a device mapping; ignored',
      'netplan: /etc/netplan/e.yaml: invalid YAML at line 2; file ignored for gateways',
    ]);
  });
});

describe('netplanGatewayFor', () => {
  const all = parseNetplanGateways({ '50-cloud-init.yaml': jujuBridged }).gateways;
  it('matches by id or set-name (not by match:), lowest metric first', () => {
    expect(netplanGatewayFor(all, ['br-ens4'], 'inet').map((g) => g.address)).toEqual(['172.16.0.2', '172.16.0.1']);
    expect(netplanGatewayFor(all, ['ens4'], 'inet6').map((g) => g.address)).toEqual(['2001:db8:16::1']);
    expect(netplanGatewayFor(all, ['enp1s0'], 'inet6').map((g) => g.address)).toEqual(['2001:db8:16::1']);
    expect(netplanGatewayFor(all, ['ens9'], 'inet')).toEqual([]);
  });
  it('the lexically last file wins, as netplan merges them', () => {
    const two = parseNetplanGateways({
      '90-b.yaml': 'network: {ethernets: {ens3: {gateway4: 10.0.0.9}}}',
      '10-a.yaml': 'network: {ethernets: {ens3: {gateway4: 10.0.0.1}}}',
    }).gateways;
    expect(netplanGatewayFor(two, ['ens3'], 'inet').map((g) => g.address)).toEqual(['10.0.0.9']);
  });
});
