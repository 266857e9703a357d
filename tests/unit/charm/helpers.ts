/**
 * Shared by the charm's Context-harness tests: the charm's own YAML, a Context
 * on a fake host, and network-get answers matching the recorded MAAS host.
 */
import type { MemoOptions } from '../../../src/ops/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { createVrfHostCharm } from '../../../src/charm.js';
import type { Network } from '../../../src/ops/index.js';
import { Context, type State } from '../../../src/ops/testing/index.js';
import { API_ADDRESSES, fakeHost, type FakeHost } from './fake-host.js';

const ROOT = process.cwd();
export const META = YAML.parse(readFileSync(join(ROOT, 'metadata.yaml'), 'utf8')) as unknown;
export const CONFIG = YAML.parse(readFileSync(join(ROOT, 'config.yaml'), 'utf8')) as unknown;
export const ACTIONS = YAML.parse(readFileSync(join(ROOT, 'actions.yaml'), 'utf8')) as unknown;

export function net(name: string, ...addrs: [string, string][]): Network {
  return {
    interfaces: [{ name, addresses: addrs.map(([address, cidr]) => ({ address, cidr, hostname: '' })) }],
    ingressAddresses: addrs.map(([a]) => a),
    egressSubnets: addrs.map(([, c]) => c),
  };
}

const MGMT = net('ens3', ['10.0.0.10', '10.0.0.0/24'], ['2001:db8:0:1::10', '2001:db8:0:1::/64']);

/** network-get as Juju reports it on the recorded MAAS host (unbound roles share the default space). */
export const NETWORKS: Readonly<Record<string, Network>> = {
  'juju-info': MGMT,
  mgmt: MGMT,
  internal: MGMT,
  admin: MGMT,
  tenant: MGMT,
  public: net('br-ens4', ['172.16.0.10', '172.16.0.0/24'], ['2001:db8:16::10', '2001:db8:16::/64']),
  storage: net('bond0', ['10.10.4.10', '10.10.4.0/24'], ['2001:db8:4::10', '2001:db8:4::/64']),
  'storage-cluster': net('bond0.105', ['10.10.5.10', '10.10.5.0/24']),
};

export function context(
  fake: FakeHost,
  opts: { unitName?: string; env?: Record<string, string>; memo?: MemoOptions } = {},
): Context {
  return new Context(
    createVrfHostCharm(() => fake.host),
    {
      meta: META,
      config: CONFIG,
      actions: ACTIONS,
      ...(opts.unitName ? { unitName: opts.unitName } : {}),
      ...(opts.memo ? { memo: opts.memo } : {}),
      env: { JUJU_API_ADDRESSES: API_ADDRESSES, ...(opts.env ?? {}) },
    },
  );
}

/** public's IPv6 gateway pinned, so that a test is about the charm (the RA-learnt one has its own test). */
export const PINNED = { gateways: 'public=2001:db8:16::1' };
/** What most tests start from: the pinned gateway and the recorded host's networks. */
export const BASE: State = { config: PINNED, networks: NETWORKS };

/** A fresh fake host around each test of the calling file, as `fh.host` inside a test. */
export function freshFakeHost(): { readonly host: FakeHost } {
  const fh: { host?: FakeHost } = {};
  beforeEach(async () => {
    fh.host = await fakeHost();
  });
  afterEach(async () => {
    await fh.host?.cleanup();
  });
  return {
    get host(): FakeHost {
      if (!fh.host) throw new Error('the fake host exists only inside a test');
      return fh.host;
    },
  };
}
