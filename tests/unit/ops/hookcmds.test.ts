import * as cmd from '../../../src/ops/hookcmds/index.js';
import { HookToolOutputError, ModelError } from '../../../src/ops/errors.js';
import { recorder } from './helpers.js';

// Outputs below are written from Juju's documented formats (juju 3.x hook-command reference).

describe('config-get', () => {
  test('argv and parsing', async () => {
    const run = recorder('{"vrfs":"","strict":true,"table-range":"1000-1999","mtu":9000,"unset":null}\n');
    await expect(cmd.configGet(run)).resolves.toEqual({
      vrfs: '',
      strict: true,
      'table-range': '1000-1999',
      mtu: 9000,
      unset: null,
    });
    expect(run.calls).toEqual([{ argv: ['config-get', '--format=json'], stdin: undefined }]);
  });
  test('rejects a nested value', async () => {
    await expect(cmd.configGet(recorder('{"vrfs":{"a":1}}'))).rejects.toThrow(/config-get: vrfs/);
  });
});

describe('network-get', () => {
  const documented = JSON.stringify({
    'bind-addresses': [
      {
        'mac-address': '00:16:3e:5b:8f:31',
        'interface-name': 'eth0',
        addresses: [
          { hostname: '', value: '10.10.4.23', cidr: '10.10.4.0/24', address: '10.10.4.23' },
          { hostname: '', value: '2001:db8:4::17', cidr: '2001:db8:4::/64' },
        ],
        macaddress: '00:16:3e:5b:8f:31',
        interfacename: 'eth0',
      },
      {
        'mac-address': '',
        'interface-name': 'br-eth1',
        addresses: [{ hostname: 'h', address: '10.20.0.5', cidr: '10.20.0.0/24' }],
      },
    ],
    'egress-subnets': ['10.10.4.23/32'],
    'ingress-addresses': ['10.10.4.23', '2001:db8:4::17'],
  });

  test('argv without and with a relation id', async () => {
    const run = recorder(documented);
    await cmd.networkGet(run, 'storage');
    await cmd.networkGet(run, 'juju-info', 'juju-info:3');
    expect(run.calls.map((c) => c.argv)).toEqual([
      ['network-get', '--format=json', 'storage'],
      ['network-get', '--format=json', '-r', 'juju-info:3', 'juju-info'],
    ]);
  });

  test('parses bind-addresses, egress-subnets, ingress-addresses; value or legacy address', async () => {
    const out = await cmd.networkGet(recorder(documented), 'storage');
    expect(out['bind-addresses']).toEqual([
      {
        'interface-name': 'eth0',
        'mac-address': '00:16:3e:5b:8f:31',
        addresses: [
          { hostname: '', value: '10.10.4.23', cidr: '10.10.4.0/24' },
          { hostname: '', value: '2001:db8:4::17', cidr: '2001:db8:4::/64' },
        ],
      },
      {
        'interface-name': 'br-eth1',
        'mac-address': '',
        addresses: [{ hostname: 'h', value: '10.20.0.5', cidr: '10.20.0.0/24' }],
      },
    ]);
    expect(out['egress-subnets']).toEqual(['10.10.4.23/32']);
    expect(out['ingress-addresses']).toEqual(['10.10.4.23', '2001:db8:4::17']);
  });

  test('null lists become empty', async () => {
    const out = await cmd.networkGet(
      recorder('{"bind-addresses":null,"egress-subnets":null,"ingress-addresses":null}'),
      'x',
    );
    expect(out).toEqual({ 'bind-addresses': [], 'egress-subnets': [], 'ingress-addresses': [] });
  });

  test('an address with neither value nor address is an output error', async () => {
    const bad = '{"bind-addresses":[{"interface-name":"eth0","addresses":[{"cidr":"10.0.0.0/24"}]}]}';
    const err = await cmd.networkGet(recorder(bad), 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookToolOutputError);
    expect((err as Error).message).toMatch(/network-get: bind-addresses\.0\.addresses\.0/);
  });
});

describe('status', () => {
  test('status-set argv, message after --', async () => {
    const run = recorder();
    await cmd.statusSet(run, 'blocked', '-r is not an option');
    expect(run.calls[0]?.argv).toEqual(['status-set', '--application=false', 'blocked', '--', '-r is not an option']);
  });
  test('status-get argv and parse', async () => {
    const run = recorder('{"message":"ready","status":"active","status-data":{}}');
    await expect(cmd.statusGet(run)).resolves.toEqual({ status: 'active', message: 'ready', 'status-data': {} });
    expect(run.calls[0]?.argv).toEqual(['status-get', '--include-data', '--format=json']);
  });
  test('status-get without message or data', async () => {
    await expect(cmd.statusGet(recorder('{"status":"unknown"}'))).resolves.toEqual({
      status: 'unknown',
      message: '',
      'status-data': {},
    });
  });
  test('status-get rejects an unknown status', async () => {
    await expect(cmd.statusGet(recorder('{"status":"happy","message":""}'))).rejects.toBeInstanceOf(
      HookToolOutputError,
    );
  });
  test('application-version-set argv', async () => {
    const run = recorder();
    await cmd.applicationVersionSet(run, '-1.2');
    expect(run.calls[0]?.argv).toEqual(['application-version-set', '--', '-1.2']);
  });
});

test('juju-log argv', async () => {
  const run = recorder();
  await cmd.jujuLog(run, 'WARNING', '--not-a-flag');
  expect(run.calls[0]?.argv).toEqual(['juju-log', '--log-level', 'WARNING', '--', '--not-a-flag']);
});

describe('is-leader', () => {
  test('argv and both answers', async () => {
    const run = recorder('true\n');
    await expect(cmd.isLeader(run)).resolves.toBe(true);
    await expect(cmd.isLeader(recorder('false'))).resolves.toBe(false);
    expect(run.calls[0]?.argv).toEqual(['is-leader', '--format=json']);
  });
  test('a non-boolean is an output error', async () => {
    await expect(cmd.isLeader(recorder('"yes"'))).rejects.toBeInstanceOf(HookToolOutputError);
  });
});

describe('actions', () => {
  test('action-get argv and nested params', async () => {
    const run = recorder('{"routes":true,"filter":{"vrf":"storage"}}');
    await expect(cmd.actionGet(run)).resolves.toEqual({ routes: true, filter: { vrf: 'storage' } });
    expect(run.calls[0]?.argv).toEqual(['action-get', '--format=json']);
  });
  test('action-set flattens nested results into k=v pairs', async () => {
    const run = recorder();
    await cmd.actionSet(run, {
      summary: 'a=b c',
      vrf: { storage: { table: 1001, up: true } },
      members: ['eth1', 'eth2'],
    });
    expect(run.calls[0]?.argv).toEqual([
      'action-set',
      'summary=a=b c',
      'vrf.storage.table=1001',
      'vrf.storage.up=true',
      'members=["eth1","eth2"]',
    ]);
  });
  test('action-set with an invalid key runs nothing', async () => {
    const run = recorder();
    await expect(cmd.actionSet(run, { Bad: 'x' })).rejects.toThrow(/invalid action result key "Bad"/);
    expect(run.calls).toEqual([]);
  });
  test('action-set with nothing to set runs nothing', async () => {
    const run = recorder();
    await cmd.actionSet(run, {});
    expect(run.calls).toEqual([]);
  });
  test('action-log and action-fail put the message after --', async () => {
    const run = recorder();
    await cmd.actionLog(run, '-v step 1');
    await cmd.actionFail(run, '--force failed');
    expect(run.calls.map((c) => c.argv)).toEqual([
      ['action-log', '--', '-v step 1'],
      ['action-fail', '--', '--force failed'],
    ]);
  });
});

describe('relations', () => {
  test('relation-ids argv and parse', async () => {
    const run = recorder('["juju-info:3","juju-info:7"]');
    await expect(cmd.relationIds(run, 'juju-info')).resolves.toEqual(['juju-info:3', 'juju-info:7']);
    expect(run.calls[0]?.argv).toEqual(['relation-ids', 'juju-info', '--format=json']);
  });
  test('relation-ids rejects a malformed id', async () => {
    await expect(cmd.relationIds(recorder('["juju-info"]'), 'juju-info')).rejects.toThrow(/expected ENDPOINT:ID/);
  });
  test('relation-list argv and parse', async () => {
    const run = recorder('["ubuntu/0","ubuntu/1"]');
    await expect(cmd.relationList(run, 'juju-info:3')).resolves.toEqual(['ubuntu/0', 'ubuntu/1']);
    expect(run.calls[0]?.argv).toEqual(['relation-list', '-r', 'juju-info:3', '--format=json']);
    await expect(cmd.relationList(recorder('null'), 'juju-info:3')).resolves.toEqual([]);
  });
  test('relation-get argv and parse', async () => {
    const run = recorder('{"egress-subnets":"10.0.0.5/32","ingress-address":"10.0.0.5","private-address":"10.0.0.5"}');
    await expect(cmd.relationGet(run, 'juju-info:3', 'ubuntu/0')).resolves.toEqual({
      'egress-subnets': '10.0.0.5/32',
      'ingress-address': '10.0.0.5',
      'private-address': '10.0.0.5',
    });
    expect(run.calls[0]?.argv).toEqual(['relation-get', '--format=json', '-r', 'juju-info:3', '-', 'ubuntu/0']);
  });
});

describe('server-side state', () => {
  test('state-get argv and parse', async () => {
    const run = recorder('{"ledger":"{}"}');
    await expect(cmd.stateGet(run)).resolves.toEqual({ ledger: '{}' });
    expect(run.calls[0]?.argv).toEqual(['state-get', '--format=json']);
  });
  test('state-set sends the map on stdin', async () => {
    const run = recorder();
    await cmd.stateSet(run, { ledger: '{"a":1}', 'x-y': 'z' });
    expect(run.calls[0]).toEqual({ argv: ['state-set', '--file', '-'], stdin: '{"ledger":"{\\"a\\":1}","x-y":"z"}' });
  });
});

describe('bad output', () => {
  test('invalid JSON names the tool and keeps the cause', async () => {
    const err = await cmd.configGet(recorder('ERROR: oops')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookToolOutputError);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as HookToolOutputError).name).toBe('HookToolOutputError');
    expect((err as HookToolOutputError).tool).toBe('config-get');
    expect((err as Error).message).toMatch(/config-get: invalid JSON "ERROR: oops"/);
    expect((err as Error).cause).toBeInstanceOf(SyntaxError);
  });
  test('empty output is invalid JSON', async () => {
    await expect(cmd.isLeader(recorder(''))).rejects.toThrow(/is-leader: invalid JSON/);
  });
});
