import { parseHostPort, parseJujuContext } from '../../../src/ops/context.js';
import { JujuContextError } from '../../../src/ops/errors.js';

const full = {
  JUJU_DISPATCH_PATH: 'hooks/juju-info-relation-joined',
  JUJU_UNIT_NAME: 'vrf-host/3',
  JUJU_MODEL_NAME: 'cloud',
  JUJU_MODEL_UUID: '4b3f4e6a-1111-4222-8333-444455556666',
  JUJU_CHARM_DIR: '/var/lib/juju/agents/unit-vrf-host-3/charm',
  JUJU_VERSION: '3.6.1',
  JUJU_API_ADDRESSES: '10.0.0.2:17070 [fd00::2]:17070 juju.example.com:443',
  JUJU_MACHINE_ID: '4/lxd/2',
  JUJU_PRINCIPAL_UNIT: 'ceph-osd/1',
  JUJU_AVAILABILITY_ZONE: 'rack-b',
  JUJU_RELATION: 'juju-info',
  JUJU_RELATION_ID: 'juju-info:12',
  JUJU_REMOTE_UNIT: 'ceph-osd/1',
  JUJU_REMOTE_APP: 'ceph-osd',
  JUJU_ACTION_NAME: 'show-vrfs',
  JUJU_ACTION_UUID: '7',
  PATH: '/usr/bin',
};

test('every variable is typed', () => {
  expect(parseJujuContext(full)).toEqual({
    dispatchPath: 'hooks/juju-info-relation-joined',
    unitName: 'vrf-host/3',
    appName: 'vrf-host',
    modelName: 'cloud',
    modelUuid: '4b3f4e6a-1111-4222-8333-444455556666',
    charmDir: '/var/lib/juju/agents/unit-vrf-host-3/charm',
    version: '3.6.1',
    apiAddresses: [
      { host: '10.0.0.2', port: 17070 },
      { host: 'fd00::2', port: 17070 },
      { host: 'juju.example.com', port: 443 },
    ],
    machineId: '4/lxd/2',
    principalUnit: 'ceph-osd/1',
    availabilityZone: 'rack-b',
    relation: 'juju-info',
    relationId: { id: 'juju-info:12', endpoint: 'juju-info', num: 12 },
    remoteUnit: 'ceph-osd/1',
    remoteApp: 'ceph-osd',
    actionName: 'show-vrfs',
    actionUuid: '7',
  });
});

test('only the dispatch path and unit name are required; empty strings count as unset', () => {
  const ctx = parseJujuContext({
    JUJU_DISPATCH_PATH: 'hooks/install',
    JUJU_UNIT_NAME: 'vrf-host/0',
    JUJU_RELATION_ID: '',
  });
  expect(ctx).toEqual({ dispatchPath: 'hooks/install', unitName: 'vrf-host/0', appName: 'vrf-host', apiAddresses: [] });
});

test.each([
  [{ JUJU_UNIT_NAME: 'vrf-host/0' }, /JUJU_DISPATCH_PATH/],
  [{ JUJU_DISPATCH_PATH: 'hooks/install', JUJU_UNIT_NAME: 'vrf-host' }, /JUJU_UNIT_NAME: must look like app\/N/],
  [{ ...full, JUJU_RELATION_ID: 'juju-info' }, /JUJU_RELATION_ID: must look like endpoint:N/],
  [{ ...full, JUJU_API_ADDRESSES: '10.0.0.2' }, /JUJU_API_ADDRESSES: "10.0.0.2" is not host:port/],
  [{ ...full, JUJU_API_ADDRESSES: 'fd00::2:17070' }, /JUJU_API_ADDRESSES: "fd00::2:17070" is not host:port/],
  [{ ...full, JUJU_API_ADDRESSES: '10.0.0.2:70000' }, /is not host:port/],
  [{ ...full, JUJU_REMOTE_UNIT: 'ceph-osd' }, /JUJU_REMOTE_UNIT/],
  [{ ...full, JUJU_VERSION: 'latest' }, /JUJU_VERSION/],
])('bad environment %# names the variable', (env, re) => {
  expect(() => parseJujuContext(env)).toThrow(JujuContextError);
  expect(() => parseJujuContext(env)).toThrow(re);
});

test.each([
  ['[::1]:17070', { host: '::1', port: 17070 }],
  ['[fe80::1%eth0]:17070', { host: 'fe80::1%eth0', port: 17070 }],
  ['192.0.2.1:1', { host: '192.0.2.1', port: 1 }],
])('parseHostPort(%s)', (s, expected) => {
  expect(parseHostPort(s)).toEqual(expected);
});

test.each(['[::1]', '::1:17070', ':17070', 'host:', 'host:0', '[::1]:x'])('parseHostPort rejects %s', (s) => {
  expect(() => parseHostPort(s)).toThrow(/not host:port/);
});
