/**
 * Runs a Plan. Sysctl steps are written directly under /proc/sys; consecutive
 * `ip` steps go through ONE `ip -batch -` process. The order of the plan is
 * kept exactly, so two things split the batch: a sysctl between ip steps
 * (keep_addr_on_down must be set before an enslave), and a line that needs a
 * family option (render.ts emits `-6 rule … lookup local` for the IPv6 local
 * rule, which only `ip -6 -batch -` can run). A plan with its sysctls at the
 * ends and no such line starts exactly one ip process.
 *
 * Every step is rendered (and so validated) before anything runs. Apply stops
 * at the first failure and says which step failed, its command and why; ip
 * stops at the first failing batch line, so every earlier step ran and no
 * later one did.
 */
import { rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runIpBatch, tokenProblem, type ProcOptions } from './ip.js';
import { under, writeIfChanged } from './persist.js';
import type { RenderedStep } from './render.js';
import { writeSysctl } from './sysctl.js';
import type { Step } from './types.js';

export type { RenderedStep };

export interface Renderer {
  readonly renderStep: (step: Step) => RenderedStep;
  readonly renderCommand: (step: Step) => string;
}

export interface AppliedStep {
  readonly step: Step;
  /** The human command, e.g. `ip link add storage type vrf table 1001` or `sysctl -w net.ipv4.tcp_l3mdev_accept=1`. */
  readonly command: string;
}

export interface ApplyFailure {
  /** Index of the failing step in the plan. */
  readonly index: number;
  readonly step: Step;
  readonly command: string;
  readonly error: string;
}

export type ApplyResult =
  | { readonly ok: true; readonly applied: readonly AppliedStep[]; readonly ipProcesses: number }
  | {
      readonly ok: false;
      readonly applied: readonly AppliedStep[];
      readonly failure: ApplyFailure;
      readonly ipProcesses: number;
    };

export interface ApplyOptions extends ProcOptions {
  readonly procRoot?: string;
  /** Root for the files a step writes (networkd's; default `/`). */
  readonly root?: string;
  /** render.ts's renderStep/renderCommand (the engine passes them; tests may pass a double). */
  readonly renderer: Renderer;
}

interface Prepared {
  readonly index: number;
  readonly step: Step;
  readonly command: string;
  readonly r: RenderedStep;
}

function stripIp(argv: readonly string[]): readonly string[] {
  return argv[0] === 'ip' ? argv.slice(1) : argv;
}

/** A rendered line may start with a family option (`-6`), which only a whole ip process can take. */
function splitFamily(argv: readonly string[]): { family: '-4' | '-6' | undefined; line: readonly string[] } {
  const a = stripIp(argv);
  return a[0] === '-6' || a[0] === '-4' ? { family: a[0], line: a.slice(1) } : { family: undefined, line: a };
}

function commandOf(p: { r: RenderedStep }, human: string): string {
  if (p.r.kind === 'sysctl') return human || `sysctl -w ${p.r.key}=${p.r.value}`;
  if (p.r.kind === 'file') return human || `${p.r.content === null ? 'rm' : 'write'} /${p.r.path}`;
  return human || `ip ${stripIp(p.r.argv).join(' ')}`;
}

export async function applySteps(steps: readonly Step[], o: ApplyOptions): Promise<ApplyResult> {
  const renderer = o.renderer;
  const prepared: Prepared[] = [];
  for (const [index, step] of steps.entries()) {
    let r: RenderedStep;
    let human: string;
    try {
      r = renderer.renderStep(step);
      human = renderer.renderCommand(step);
      if (r.kind === 'ip') {
        const { line } = splitFamily(r.argv);
        if (line.length === 0) throw new Error('empty ip command');
        for (const t of line) {
          const p = tokenProblem(t);
          if (p !== null) throw new Error(`token ${p}`);
        }
      }
    } catch (e) {
      // Nothing has run yet: an invalid step refuses the whole plan.
      return {
        ok: false,
        applied: [],
        ipProcesses: 0,
        failure: {
          index,
          step,
          command: `(${step.kind})`,
          error: `invalid step, nothing applied: ${(e as Error).message}`,
        },
      };
    }
    prepared.push({ index, step, r, command: commandOf({ r }, human) });
  }

  const applied: AppliedStep[] = [];
  let ipProcesses = 0;
  let i = 0;
  while (i < prepared.length) {
    const p = prepared[i]!;
    if (p.r.kind === 'sysctl' || p.r.kind === 'file') {
      try {
        if (p.r.kind === 'sysctl') await writeSysctl(p.r.key, p.r.value, o.procRoot);
        else {
          const path = under(o.root, p.r.path);
          await writeIfChanged(path, p.r.content);
          // A drop-in directory vrf-host made goes with its last file (rmdir refuses a non-empty one).
          if (p.r.content === null && dirname(path).endsWith('.network.d')) await rmdir(dirname(path)).catch(() => {});
        }
      } catch (e) {
        return {
          ok: false,
          applied,
          ipProcesses,
          failure: { index: p.index, step: p.step, command: p.command, error: (e as Error).message },
        };
      }
      applied.push({ step: p.step, command: p.command });
      i++;
      continue;
    }
    // A run of consecutive ip steps with the same family option: one process.
    const argvOf = (q: Prepared) => splitFamily((q.r as { argv: readonly string[] }).argv);
    const family = argvOf(p).family;
    const run: Prepared[] = [];
    while (i < prepared.length && prepared[i]!.r.kind === 'ip' && argvOf(prepared[i]!).family === family)
      run.push(prepared[i++]!);
    const lines = run.map((q) => argvOf(q).line);
    ipProcesses++;
    let res;
    try {
      res = await runIpBatch(lines, { ...o, ...(family !== undefined ? { family } : {}) });
    } catch (e) {
      const first = run[0]!;
      return {
        ok: false,
        applied,
        ipProcesses,
        failure: { index: first.index, step: first.step, command: first.command, error: (e as Error).message },
      };
    }
    if (res.ok) {
      for (const q of run) applied.push({ step: q.step, command: q.command });
      continue;
    }
    if (res.failedLine === null) {
      // ip failed without naming a line: we cannot know how far it got.
      const first = run[0]!;
      return {
        ok: false,
        applied,
        ipProcesses,
        failure: {
          index: first.index,
          step: first.step,
          command: first.command,
          error:
            `ip -batch failed (exit ${res.exitCode}) without naming a line;` +
            ` some of the next ${run.length} step(s) may have run: ${res.stderr || 'no error output'}`,
        },
      };
    }
    for (const q of run.slice(0, res.failedLine)) applied.push({ step: q.step, command: q.command });
    const bad = run[res.failedLine]!;
    return {
      ok: false,
      applied,
      ipProcesses,
      failure: { index: bad.index, step: bad.step, command: bad.command, error: errorText(res.stderr) },
    };
  }
  return { ok: true, applied, ipProcesses };
}

/**
 * ip's own message without the "Command failed -:N" trailer (or the trailer alone, when ip said
 * nothing else). Only called when stderr named the failed line, so it is never empty.
 */
function errorText(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Command failed -:\d+$/.test(l));
  return lines.join('; ') || stderr;
}
