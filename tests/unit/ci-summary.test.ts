/**
 * .ci/run's closing count (scripts/ci-summary.mjs) over what `npm test` prints in each kernel
 * mode, and the kernel suite itself run natively over fake scenarios (a pass, a flaky one that
 * passes on the retry, a failure): each scenario is counted exactly once, a guest's own count
 * line never, and a skipped or absent kernel suite fails the run.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarise } from '../../scripts/ci-summary.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'tests/fixtures/ci');

/** What jest prints at the end of a project's run. */
const jest = (tests: string, suites = '3 passed, 3 total') =>
  `Test Suites: ${suites}\nTests:       ${tests}\nSnapshots:   0 total\nTime:        1.2 s\nRan all test suites.\n`;
const UNIT_AND_E2E = jest('815 passed, 815 total') + jest('1 skipped, 56 passed, 57 total');

describe('ci-summary over recorded npm test outputs', () => {
  let files: string[];
  beforeAll(async () => {
    files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.log')).sort();
  });

  // Each recorded kernel output names what it must count in its first line: "# expect: P passed, F failed, S skipped".
  it('has a recording of every mode', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'kernel-native-retry.log',
        'kernel-vm-one-guest.log',
        'kernel-vm-two-guests.log',
        'kernel-vm-two-guests-flaky.log',
        'kernel-skipped.log',
        'kernel-old-format.log',
      ]),
    );
  });

  it.each([
    ['kernel-native-retry.log'],
    ['kernel-vm-one-guest.log'],
    ['kernel-vm-two-guests.log'],
    ['kernel-vm-two-guests-flaky.log'],
    ['kernel-skipped.log'],
    ['kernel-old-format.log'],
  ])('%s: every scenario once, guest count lines never', async (file) => {
    const kernel = await readFile(join(FIXTURES, file), 'utf8');
    const want = /^# expect: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(kernel);
    expect(want).not.toBeNull();
    const [p, f, s] = want!.slice(1).map(Number) as [number, number, number];
    const r = summarise(UNIT_AND_E2E + kernel);
    const kernelLines = r.lines.filter((l) => l.kind === 'kernel');
    if (file === 'kernel-old-format.log') {
      // The format before the kernel suite labelled its count: no closing line, the run fails.
      expect(kernelLines).toEqual([]);
      expect(r.problems.join('\n')).toMatch(/kernel: expected 1 closing count line\(s\), found 0/);
      return;
    }
    expect(kernelLines).toEqual([{ kind: 'kernel', passed: p, failed: f, skipped: s }]);
    expect(r).toMatchObject({ passed: 815 + 56 + p, failed: f, skipped: 1 + s });
    expect(r.problems.length === 0).toBe(f === 0 && s === 0);
  });

  it('a skipped kernel suite is a problem, and counted as skipped', async () => {
    const r = summarise(UNIT_AND_E2E + (await readFile(join(FIXTURES, 'kernel-skipped.log'), 'utf8')));
    expect(r.skipped).toBe(1 + 14);
    expect(r.problems).toEqual(['kernel: SKIPPED (14 scenario(s)): nothing was proven on the real kernel']);
  });

  it('an absent suite, or one counted twice, is a problem', () => {
    const kernel = 'kernel: 3 passed, 0 failed, 0 skipped\n';
    expect(summarise(UNIT_AND_E2E).problems).toEqual([
      'kernel: expected 1 closing count line(s), found 0 (a suite did not run, stopped before counting, or counted twice)',
    ]);
    expect(summarise(jest('815 passed, 815 total') + kernel).problems).toEqual([
      'unit and e2e: expected 2 closing count line(s), found 1 (a suite did not run, stopped before counting, or counted twice)',
    ]);
    expect(summarise(UNIT_AND_E2E + kernel + kernel).problems).toHaveLength(1);
    expect(summarise(UNIT_AND_E2E + 'kernel: 0 passed, 0 failed, 0 skipped\n').problems).toEqual([
      'kernel: the suite counted no scenario',
    ]);
    expect(summarise(UNIT_AND_E2E + kernel)).toEqual(
      expect.objectContaining({ passed: 874, failed: 0, skipped: 1, problems: [] }),
    );
  });

  it("reads jest's failed, skipped and todo figures", () => {
    const r = summarise(jest('2 failed, 3 skipped, 1 todo, 40 passed, 46 total') + UNIT_AND_E2E.slice(0, 0));
    expect(r.lines).toEqual([{ kind: 'jest', passed: 40, failed: 2, skipped: 4 }]);
    expect(r.problems).toContain('2 test(s) failed');
  });
});

describe('the kernel suite, natively, over fake scenarios', () => {
  let work: string;
  let scenarios: string;
  let marker: string; // the flaky scenario fails while this file does not exist, then creates it
  const scenario = (name: string, body: string) =>
    `export const name = '${name}';\nexport const description = 'fake';\nexport async function run(t) {\n${body}\n}\n`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vrf-kernel-count-'));
    scenarios = join(work, 'scenarios');
    await mkdir(scenarios);
    marker = join(work, 'flaky-ran-once');
    await writeFile(join(scenarios, '01-pass.mjs'), scenario('pass', "  t.check('fine', true);"));
    await writeFile(
      join(scenarios, '02-flaky.mjs'),
      scenario(
        'flaky',
        `  const { existsSync, writeFileSync } = await import('node:fs');
  const again = existsSync(${JSON.stringify(marker)});
  writeFileSync(${JSON.stringify(marker)}, '1');
  t.check('passes the second time', again);`,
      ),
    );
    await writeFile(join(scenarios, '03-fail.mjs'), scenario('fail', "  t.check('never', false);"));
  });

  const suite = async (env: Record<string, string>) => {
    await rm(marker, { force: true });
    return execa(process.execPath, [join(ROOT, 'scripts/kernel-suite.mjs')], {
      cwd: ROOT,
      reject: false,
      env: {
        VRF_HOST_KERNEL: 'native',
        VRF_HOST_SCENARIO_DIR: scenarios,
        VRF_HOST_CACHE: join(work, 'cache'),
        ...env,
      },
      all: true,
    });
  };

  it('counts the flaky scenario once, as passed, and the guest lines never', async () => {
    const r = await suite({});
    const out = r.all;
    expect(r.exitCode).toBe(1);
    expect(out).toMatch(/^PASS {2}flaky .*FLAKY: failed, then passed on retry/m);
    expect(out).toMatch(/^\[native\] # guest: 1 passed, 2 failed$/m);
    expect(out).toMatch(/^\[retry native\] # guest: 1 passed, 1 failed$/m);
    const s = summarise(UNIT_AND_E2E + out);
    expect(s.lines.filter((l) => l.kind === 'kernel')).toEqual([{ kind: 'kernel', passed: 2, failed: 1, skipped: 0 }]);
    expect(out.trimEnd().split('\n').at(-1)).toBe('kernel: 2 passed, 1 failed, 0 skipped');
  }, 60_000);

  it('without the retry, one guest counts each scenario once', async () => {
    const r = await suite({ VRF_HOST_KERNEL_RETRY: '0', VRF_HOST_KERNEL_SHARDS: '1' });
    const s = summarise(UNIT_AND_E2E + r.all);
    expect(s.lines.filter((l) => l.kind === 'kernel')).toEqual([{ kind: 'kernel', passed: 1, failed: 2, skipped: 0 }]);
  }, 60_000);

  it('VRF_HOST_SKIP_KERNEL=1 says SKIPPED and counts every selected scenario as skipped', async () => {
    const r = await suite({ VRF_HOST_SKIP_KERNEL: '1' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('kernel: SKIPPED\nkernel: 0 passed, 0 failed, 3 skipped');
    expect(summarise(UNIT_AND_E2E + r.all).problems).toEqual([
      'kernel: SKIPPED (3 scenario(s)): nothing was proven on the real kernel',
    ]);
  }, 60_000);
});
