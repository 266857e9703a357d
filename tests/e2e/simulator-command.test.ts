/**
 * runDispatch's `command` option: argv run in front of dispatch (the kernel suite passes
 * `ip netns exec NS`), with dispatch and its hook tools still talking to this simulator.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, runDispatch } from '../../src/ops/testing/simulator/harness.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ops-sim-command-'));
  await writeFile(join(work, 'metadata.yaml'), 'name: probe\n');
  // The status message says whether dispatch ran under the command (env MARK=…) or bare.
  await writeFile(
    join(work, 'dispatch'),
    '#!/bin/sh\nstatus-set active "${MARK:-bare}"\necho "ran $JUJU_DISPATCH_PATH"\n',
  );
  await chmod(join(work, 'dispatch'), 0o755);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each([false, true])('runDispatch command (fast=%s)', (fast) => {
  it('runs dispatch behind the command, and the hook tools still record into the simulator', async () => {
    const sim = await createSimulator({ dir: await mkdtemp(join(work, 's-')), state: {}, fast });
    // The wrapper writes down the argv it was handed, then runs it: dispatch must be that argv.
    const seen = join(await mkdtemp(join(work, 'w-')), 'argv');
    const wrapper = ['sh', '-c', 'printf "%s\\n" "$@" > "$0"; exec env MARK=wrapped "$@"', seen];
    const wrapped = await runDispatch(work, 'hooks/install', sim, { command: wrapper });
    expect(wrapped.exitCode).toBe(0);
    expect((await readFile(seen, 'utf8')).split('\n').filter(Boolean)).toEqual([join(work, 'dispatch')]);
    expect(wrapped.stdout.trim()).toBe('ran hooks/install');
    expect(wrapped.record.status).toMatchObject({ status: 'active', message: 'wrapped' });
    sim.clearJournal();
    const bare = await runDispatch(work, 'hooks/install', sim);
    expect(bare.record.status).toMatchObject({ status: 'active', message: 'bare' });
  });
});
