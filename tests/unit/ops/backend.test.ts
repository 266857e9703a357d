import { classifyingRun, ModelBackend } from '../../../src/ops/backend.js';
import {
  HookToolFailedError,
  HookToolMissingError,
  HookToolOutputError,
  ModelError,
  RelationNotFoundError,
  describeError,
} from '../../../src/ops/errors.js';
import { processRunner, SpawnError, type RawRun } from '../../../src/ops/runner.js';

const answering =
  (exitCode: number, stdout: string, stderr = '', signal?: string): RawRun =>
  () =>
    Promise.resolve({ exitCode, stdout, stderr, ...(signal !== undefined ? { signal } : {}) });

describe('classification', () => {
  test('a tool missing from PATH is HookToolMissingError with the spawn error as cause', async () => {
    const spawnErr = new SpawnError('spawn config-get ENOENT', 'ENOENT');
    const run = classifyingRun(() => Promise.reject(spawnErr));
    const err = await run(['config-get', '--format=json']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookToolMissingError);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as HookToolMissingError).name).toBe('HookToolMissingError');
    expect((err as HookToolMissingError).tool).toBe('config-get');
    expect((err as Error).message).toMatch(/config-get not found on PATH/);
    expect((err as Error).cause).toBe(spawnErr);
  });

  test('another spawn failure is a plain ModelError', async () => {
    const run = classifyingRun(() => Promise.reject(new SpawnError('EACCES', 'EACCES')));
    const err = await run(['juju-log']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err).not.toBeInstanceOf(HookToolMissingError);
    expect((err as Error).message).toBe('could not run hook tool juju-log');
  });

  test('a non-zero exit is HookToolFailedError with code and stderr', async () => {
    const run = classifyingRun(answering(1, '', 'ERROR permission denied\n'));
    const err = await run(['status-get', '--include-data', '--format=json']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookToolFailedError);
    expect(err).toMatchObject({
      name: 'HookToolFailedError',
      tool: 'status-get',
      exitCode: 1,
      stderr: 'ERROR permission denied\n',
    });
    expect((err as Error).message).toBe('hook tool status-get exited with status 1: ERROR permission denied');
  });

  test('a signal is reported as such', async () => {
    const run = classifyingRun(answering(-1, '', '', 'SIGKILL'));
    await expect(run(['is-leader', '--format=json'])).rejects.toThrow('hook tool is-leader was killed by SIGKILL');
  });

  test('"relation not found" for a -r argument is RelationNotFoundError caused by the failure', async () => {
    const run = classifyingRun(
      answering(2, '', 'ERROR invalid value "juju-info:9" for option -r: relation not found\n'),
    );
    const err = await run(['relation-list', '-r', 'juju-info:9', '--format=json']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelationNotFoundError);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as RelationNotFoundError).relation).toBe('juju-info:9');
    expect((err as Error).cause).toBeInstanceOf(HookToolFailedError);
    expect(describeError(err)).toBe(
      'RelationNotFoundError: relation juju-info:9 not found <- caused by: HookToolFailedError: hook tool relation-list' +
        ' exited with status 2: ERROR invalid value "juju-info:9" for option -r: relation not found',
    );
  });

  test('success passes stdout through', async () => {
    const run = classifyingRun(answering(0, 'true\n', 'noise'));
    await expect(run(['is-leader', '--format=json'])).resolves.toEqual({ stdout: 'true\n' });
  });

  test('the backend surfaces bad JSON as HookToolOutputError', async () => {
    const backend = new ModelBackend(answering(0, '{"status": '));
    await expect(backend.statusGet()).rejects.toBeInstanceOf(HookToolOutputError);
  });
});

describe('processRunner (real processes)', () => {
  const node = process.execPath;

  test('a missing executable classifies as HookToolMissingError', async () => {
    const run = classifyingRun(processRunner());
    await expect(run(['vrf-host-no-such-hook-tool', '--format=json'])).rejects.toBeInstanceOf(HookToolMissingError);
  });

  test('exit code and stderr of a failing tool', async () => {
    const run = classifyingRun(processRunner());
    const err = await run([node, '-e', 'process.stderr.write("ERROR boom\\n"); process.exit(3)']).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'HookToolFailedError', exitCode: 3, stderr: 'ERROR boom\n' });
  });

  test('stdin reaches the tool and stdout comes back unchanged; argv is not split by a shell', async () => {
    const raw = processRunner();
    const res = await raw(
      [
        node,
        '-e',
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.stringify([s, process.argv[1]])+"\\n"))',
        'a b; $(x)',
      ],
      'in put',
    );
    expect(res).toEqual({ exitCode: 0, stdout: '["in put","a b; $(x)"]\n', stderr: '' });
  });

  test('the env option replaces the environment', async () => {
    const raw = processRunner({ env: { ONLY_THIS: 'yes', PATH: process.env['PATH'] } });
    const res = await raw([node, '-e', 'process.stdout.write(String(process.env.ONLY_THIS)+String(process.env.HOME))']);
    expect(res.stdout).toBe('yesundefined');
  });
});
