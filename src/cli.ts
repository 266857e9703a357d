/**
 * `vrf-host` — the standalone CLI on the same engine as the charm. The boot
 * unit and the networkd-dispatcher hook run `vrf-host apply --from-state`; on a
 * host without Juju an operator runs it with a desired-state file.
 *
 * Exit codes: 0 done (or nothing to do), 1 a step failed (the host is as far as
 * the failing step; the next run converges from there), the host kept changing
 * under the applies (not converged after the last round), or a replay
 * (--from-state) left out members that are not on the host (src/vrf/replay.ts:
 * the rest was built), 2 usage error,
 * 3 blocked (invalid input, a bad --vrf/--target, or a failed pre-flight
 * check; nothing applied),
 * 4 any other error (lock timeout, ip not runnable, …).
 */
import { readFile, realpath } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { formatProblem, parseEngineConfig } from './vrf/config.js';
import { leftOutMessage } from './vrf/replay.js';
import {
  checkGateways,
  converge,
  EngineError,
  readNetplan,
  show,
  teardown,
  type ConvergeReport,
  type EngineDeps,
  type EngineOptions,
  type ServicesReport,
  type TeardownReport,
  unsettledMessage,
} from './vrf/engine.js';
import type { Spawn } from './vrf/ip.js';
import type { Bindings, EngineInputs, Problem, Warning } from './vrf/types.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, blocked: 3, error: 4 } as const;

export const USAGE = `Usage: vrf-host COMMAND [options]

Commands:
  plan       show the ip commands the next apply would run (nothing is applied)
  apply      converge the host onto the desired state
  show       the VRFs, their members, gateways, rules and drift
  teardown   undo everything vrf-host did (with --unit: only when that unit is the last)
  check-gateways  ping each VRF's gateways from inside the VRF

Options:
  --file FILE       desired-state file (YAML or JSON): {config, bindings, controllers, netplan?}
  --from-state      use the last applied desired state (/var/lib/vrf-host/state.json)
  --unit NAME       the unit doing this (app/N); teardown then only removes this unit
                    until it is the last one
  --root DIR        prefix for /etc, /var/lib and /run (tests, images)
  --proc-root DIR   instead of /proc      --sys-root DIR   instead of /sys
  --ip PATH         the ip binary (default: ip on PATH)
  --systemctl PATH  the systemctl binary, for the services option (default: systemctl on PATH)
  --lock-timeout S  seconds to wait for another vrf-host run (default 120)
  --no-boot         do not install the boot unit and networkd hook on apply
  --dry-run         teardown: only print what it would do
  --force           teardown: even though Juju units are registered in the state
  --routes          show: include each VRF's route table
  --vrf NAME --target IP   check-gateways: probe a further address from one VRF
  --json            print the full report as JSON
  --quiet           print nothing on success
  -h, --help        this help

Exit codes: 0 ok, 1 a step failed, 2 usage, 3 blocked (nothing applied), 4 other error.
`;

/** The base of the CLI's own errors; a subclass only names itself. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
}

export class InputFileError extends CliError {
  override name = 'InputFileError';
}

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** The CLI bundle's own path, for the boot unit's copy. Absent: the boot unit is not installed. */
  readonly cliPath?: string;
  readonly nodeBin?: string;
  /** For tests. */
  readonly deps?: Partial<EngineDeps>;
  readonly spawn?: Spawn;
}

// ---------------------------------------------------------------------------
// The desired-state file
// ---------------------------------------------------------------------------

const bindingAddress = z.object({ address: z.string().min(1), cidr: z.string().min(1) }).strict();
const bindingInterface = z
  .object({ name: z.string().min(1), mac: z.string().optional(), addresses: z.array(bindingAddress) })
  .strict();

export const desiredFileSchema = z
  .object({
    /** Charm option names → values; `vrfs` may be given as a mapping instead of a YAML string. */
    config: z.record(z.string(), z.unknown()).default({}),
    bindings: z.record(z.string(), z.array(bindingInterface)),
    controllers: z.array(z.string()).default([]),
    /** name → text; absent: read ROOT/etc/netplan. */
    netplan: z.record(z.string(), z.string()).optional(),
  })
  .strict();

function zodWhere(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Parses and validates a desired-state file into engine inputs; InputFileError names the field. */
export async function loadDesiredFile(
  file: string,
  root?: string,
): Promise<{ inputs: EngineInputs; warnings: readonly Warning[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputFileError(`${file}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new InputFileError(`${file}: invalid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const r = desiredFileSchema.safeParse(raw);
  if (!r.success) {
    const msgs = r.error.issues.slice(0, 5).map((i) => `${zodWhere(i.path)}: ${i.message}`);
    throw new InputFileError(`${file}: ${msgs.join('; ')}`);
  }
  const cfgRaw: Record<string, unknown> = { ...r.data.config };
  if (cfgRaw.vrfs !== undefined && cfgRaw.vrfs !== null && typeof cfgRaw.vrfs === 'object')
    cfgRaw.vrfs = stringifyYaml(cfgRaw.vrfs);
  const cfg = parseEngineConfig(cfgRaw);
  if (!cfg.ok) throw new InputFileError(`${file}: config: ${cfg.problems.map(formatProblem).join('; ')}`);
  const netplan = r.data.netplan ?? (await readNetplan(root));
  const bindings: Bindings = Object.fromEntries(
    Object.entries(r.data.bindings).map(([k, ifs]) => [
      k,
      ifs.map((i) => ({ name: i.name, addresses: i.addresses, ...(i.mac !== undefined ? { mac: i.mac } : {}) })),
    ]),
  );
  return {
    inputs: { config: cfg.config, bindings, controllers: r.data.controllers, netplan },
    warnings: cfg.warnings,
  };
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

function problemsText(ps: readonly (Problem | Warning)[], prefix: string): string {
  return ps.map((p) => `${prefix}${formatProblem(p)}\n`).join('');
}

/** The services steps (a plan's or an apply's), after the ip steps. */
function servicesText(steps: readonly { readonly command: string }[], verb: string): string {
  return steps.length === 0
    ? ''
    : `${verb} ${steps.length} services step(s):\n${steps.map((p) => `  ${p.command}\n`).join('')}`;
}

function servicesFailureText(r: ServicesReport): string {
  const f = r.failure;
  if (f === null) return '';
  const done = `services: applied ${r.applied.length} of ${r.planned.length} step(s)`;
  return `${done}; failed at step ${f.index + 1}: ${f.command}\n  ${f.error}\n`;
}

function convergeText(r: ConvergeReport, verb: 'plan' | 'apply'): string {
  let s = '';
  if (r.problems.length > 0) return problemsText(r.problems, 'blocked: ');
  if (verb === 'plan' || r.failure) {
    if (r.planned.length === 0 && r.services.planned.length === 0) s += 'in sync: nothing to do\n';
    else if (r.planned.length > 0)
      s += `${r.planned.length} step(s):\n${r.planned.map((p) => `  ${p.command}\n`).join('')}`;
    if (verb === 'plan') s += servicesText(r.services.planned, 'then');
  }
  if (verb === 'apply') {
    if (r.failure) {
      s +=
        `applied ${r.applied.length} of ${r.planned.length} step(s); failed at step ${r.failure.index + 1}: ${r.failure.command}` +
        `\n  ${r.failure.error}\n`;
    } else if (r.applied.length === 0 && r.services.applied.length === 0 && r.services.failure === null) {
      s += 'in sync: nothing to do\n';
    } else if (r.applied.length > 0) {
      s += `applied ${r.applied.length} step(s):\n${r.applied.map((p) => `  ${p.command}\n`).join('')}`;
    }
    if (!r.failure) s += servicesText(r.services.applied, 'applied') + servicesFailureText(r.services);
    if (r.unsettled) {
      s += `not converged: ${unsettledMessage(r.unsettled, r.unsettled.pending.length)}\n`;
    }
  }
  if (r.leftOut.length > 0) {
    s += `left out (everything else is ${verb === 'plan' ? 'planned' : 'built'}): ${leftOutMessage(r.leftOut)}\n`;
  }
  for (const m of r.inMain) s += `${m.binding} stays in main (${m.reason}): ${m.interfaces.join(', ') || '-'}\n`;
  return s;
}

function teardownText(r: TeardownReport, dryRun: boolean): string {
  if (r.problems.length > 0) return problemsText(r.problems, 'blocked: ');
  if (r.remainingUnits.length > 0)
    return `units still on this machine (${r.remainingUnits.join(', ')}): nothing torn down\n`;
  let s = servicesText(dryRun ? r.services.planned : r.services.applied, dryRun ? 'would run' : 'ran');
  s += servicesFailureText(r.services);
  if (r.services.failure) return s + problemsText(r.warnings ?? [], 'warning: ');
  const steps = dryRun ? r.planned : r.applied;
  s += `${dryRun ? 'would run' : 'ran'} ${steps.length} step(s):\n${steps.map((p) => `  ${p.command}\n`).join('')}`;
  if (r.failure) s += `failed at step ${r.failure.index + 1}: ${r.failure.command}\n  ${r.failure.error}\n`;
  return s + problemsText(r.warnings ?? [], 'warning: ');
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

const COMMANDS = ['plan', 'apply', 'show', 'teardown', 'check-gateways'] as const;

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      file: { type: 'string' },
      'from-state': { type: 'boolean', default: false },
      unit: { type: 'string' },
      root: { type: 'string' },
      'proc-root': { type: 'string' },
      'sys-root': { type: 'string' },
      ip: { type: 'string' },
      systemctl: { type: 'string' },
      'lock-timeout': { type: 'string' },
      'no-boot': { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      routes: { type: 'boolean', default: false },
      vrf: { type: 'string' },
      target: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return { values, positionals };
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.stderr(`vrf-host: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const v = args.values;
  if (v.help) {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  try {
    const [cmd, ...extra] = args.positionals;
    if (cmd === undefined) throw new UsageError('no command given');
    const command = COMMANDS.find((c) => c === cmd);
    if (command === undefined) throw new UsageError(`unknown command "${cmd}"`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (v.file !== undefined && v['from-state']) throw new UsageError('--file and --from-state exclude each other');
    if ((command === 'plan' || command === 'apply') && v.file === undefined && !v['from-state']) {
      throw new UsageError(`${command} needs --file FILE or --from-state`);
    }
    if ((command === 'teardown' || command === 'check-gateways') && (v.file !== undefined || v['from-state'])) {
      throw new UsageError(`${command} takes no --file/--from-state (it uses the state file)`);
    }
    let lockTimeoutSec: number | undefined;
    if (v['lock-timeout'] !== undefined) {
      lockTimeoutSec = Number(v['lock-timeout']);
      if (!Number.isFinite(lockTimeoutSec) || lockTimeoutSec < 0)
        throw new UsageError(`--lock-timeout: "${v['lock-timeout']}" is not a number of seconds`);
    }
    if (v.unit !== undefined && !/^[a-z][a-z0-9-]*\/[0-9]+$/.test(v.unit))
      throw new UsageError(`--unit: "${v.unit}" is not a unit name like vrf-host/0`);

    const eo: EngineOptions = {
      ...(v.root !== undefined ? { root: v.root } : {}),
      ...(v['proc-root'] !== undefined ? { procRoot: v['proc-root'] } : {}),
      ...(v['sys-root'] !== undefined ? { sysRoot: v['sys-root'] } : {}),
      ...(v.ip !== undefined ? { ipBin: v.ip } : {}),
      ...(v.systemctl !== undefined ? { systemctlBin: v.systemctl } : {}),
      ...(lockTimeoutSec !== undefined ? { lockTimeoutSec } : {}),
      ...(io.deps ? { deps: io.deps } : {}),
      ...(io.spawn ? { spawn: io.spawn } : {}),
    };
    const out = (s: string) => {
      if (!v.quiet) io.stdout(s);
    };

    let inputs: EngineInputs | undefined;
    if (v.file !== undefined) {
      const loaded = await loadDesiredFile(v.file, v.root);
      inputs = loaded.inputs;
      if (!v.json) io.stderr(problemsText(loaded.warnings, 'warning: '));
    }

    switch (command) {
      case 'plan':
      case 'apply': {
        const boot =
          command === 'apply' && !v['no-boot'] && io.cliPath !== undefined
            ? { nodeBin: io.nodeBin ?? process.execPath, cliSource: io.cliPath }
            : false;
        const r = await converge({
          ...eo,
          ...(inputs ? { inputs } : {}),
          ...(v.unit !== undefined ? { unit: v.unit } : {}),
          dryRun: command === 'plan',
          boot,
        });
        if (v.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
        else {
          io.stderr(problemsText(r.warnings, 'warning: '));
          if (!r.ok) io.stderr(convergeText(r, command));
          else out(convergeText(r, command));
        }
        return r.problems.length > 0 ? EXIT.blocked : r.ok ? EXIT.ok : EXIT.failed;
      }
      case 'show': {
        const r = await show({ ...eo, ...(inputs ? { inputs } : {}), routes: v.routes, netfilter: true });
        if (v.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
        else out(r.summary + '\n');
        return r.problems.length > 0 ? EXIT.blocked : EXIT.ok;
      }
      case 'teardown': {
        const r = await teardown({
          ...eo,
          ...(v.unit !== undefined ? { unit: v.unit } : {}),
          dryRun: v['dry-run'],
          force: v.force,
        });
        if (v.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
        else if (!r.ok) io.stderr(teardownText(r, v['dry-run']));
        else out(teardownText(r, v['dry-run']));
        return r.problems.length > 0 ? EXIT.blocked : r.failure || r.services.failure ? EXIT.failed : EXIT.ok;
      }
      case 'check-gateways': {
        const r = await checkGateways({
          ...eo,
          ...(v.vrf !== undefined ? { vrf: v.vrf } : {}),
          ...(v.target !== undefined ? { target: v.target } : {}),
        });
        if (v.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
        else {
          if (r.length === 0) out('no gateways to check\n');
          for (const p of r) {
            const rtt = p.rttMs ? ` rtt ${p.rttMs.avg}ms` : '';
            out(
              `${p.vrf} ${p.family} ${p.target} (${p.kind}): ${p.reachable ? 'reachable' : 'UNREACHABLE'}` +
                `${p.lossPercent !== null ? ` loss ${p.lossPercent}%` : ''}` +
                `${rtt}${p.error ? ` (${p.error})` : ''}\n`,
            );
          }
        }
        return EXIT.ok;
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`vrf-host: ${e.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (e instanceof InputFileError || e instanceof EngineError) {
      io.stderr(`vrf-host: ${e.message}\n`);
      return EXIT.blocked;
    }
    io.stderr(`vrf-host: ${(e as Error).name}: ${(e as Error).message}\n`);
    return EXIT.error;
  }
}

/** The bin entry: run main with the process's argv and exit with its code. */
export async function runCli(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    cliPath: self,
    nodeBin: process.execPath,
  });
  process.exitCode = code;
}

// Run when executed directly (the bundled bin), not when imported (tests). Never
// inside a Juju hook: the charm uses the engine, not this module (a charm bundle
// that imported it would otherwise match its own path).
const invoked = process.argv[1];
if (invoked !== undefined && process.env['JUJU_DISPATCH_PATH'] === undefined) {
  const selfUrl = import.meta.url;
  void realpath(invoked)
    .then((p) => {
      if (pathToFileURL(p).href !== selfUrl) return undefined;
      // One short run (boot, networkd hook): zod's JIT costs more than it saves (see src/main.ts).
      z.config({ jitless: true });
      return runCli();
    })
    .catch(() => undefined);
}
