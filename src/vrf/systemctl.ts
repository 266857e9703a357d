/**
 * The systemd runner of src/vrf: beside ip.ts, the only module of the domain that starts
 * processes for the services inside a VRF (src/vrf/services). Argv arrays through the same spawn
 * (execa, never a shell); every unit name is checked (services/unit-name.ts) before it reaches an
 * argv, and follows `--`.
 *
 *   systemctl show --property=P,… -- UNIT…   ONE process per run for every listed and recorded unit
 *   systemctl daemon-reload                  after vrf-host wrote or removed a drop-in
 *   systemctl try-restart -- UNIT…           restarts only the units that run
 */
import { VrfError } from './errors.js';
import { ProcessError, type ProcOptions, spawnOf } from './ip.js';
import { unitNameProblem } from './services/unit-name.js';
import { parseSystemctlShowMany, SHOW_PROPERTIES, type UnitShow } from './services/unit-state.js';

/** systemctl failed, or printed what vrf-host cannot read. */
export class SystemctlError extends ProcessError {
  override name = 'SystemctlError';
}

/** A unit name that is not one the services option accepts reached the runner. */
export class UnitNameError extends VrfError {
  override name = 'UnitNameError';
}

/** A restart waits for its job (a unit's start may take a while); a reload or a read does not. */
const RESTART_TIMEOUT_MS = 180_000;
const TIMEOUT_MS = 60_000;

function checked(units: readonly string[]): string[] {
  for (const u of units) {
    const p = unitNameProblem(u);
    if (p !== null) throw new UnitNameError(`unit ${JSON.stringify(u)} ${p}`);
  }
  return [...new Set(units)];
}

async function run(args: readonly string[], o: ProcOptions, timeoutMs: number): Promise<string> {
  const bin = o.systemctlBin ?? 'systemctl';
  const r = await spawnOf(o)(bin, args, { timeoutMs });
  if (r.exitCode !== 0) {
    throw new SystemctlError(
      `\`systemctl ${args.join(' ')}\` failed (exit ${r.exitCode}): ${r.stderr.trim() || 'no error output'}`,
      {
        command: [bin, ...args],
        exitCode: r.exitCode,
        stderr: r.stderr,
      },
    );
  }
  return r.stdout;
}

/**
 * What systemd shows of each unit, from one `systemctl show`: unit name as asked → its state, in
 * the order asked (systemctl prints one block per unit, in that order; a unit systemd has no file
 * for still gets one, with LoadState=not-found). No units: no process.
 */
export async function systemctlShow(units: readonly string[], o: ProcOptions = {}): Promise<Map<string, UnitShow>> {
  const names = checked(units);
  if (names.length === 0) return new Map();
  const args = ['show', `--property=${SHOW_PROPERTIES.join(',')}`, '--', ...names];
  const stdout = await run(args, o, TIMEOUT_MS);
  const blocks = parseSystemctlShowMany(stdout);
  const fail = (message: string) =>
    new SystemctlError(message, { command: ['systemctl', ...args], exitCode: 0, stderr: '' });
  if (blocks.length !== names.length) {
    throw fail(
      `\`systemctl show\` printed ${blocks.length} unit(s) for the ${names.length} asked (${names.join(', ')})`,
    );
  }
  const out = new Map<string, UnitShow>();
  blocks.forEach((b, i) => {
    const unit = names[i]!;
    if (!b.ok) throw fail(`${unit}: ${b.problem}`);
    out.set(unit, b.unit);
  });
  return out;
}

/** `systemctl daemon-reload`: systemd reads the unit files and drop-ins again. */
export async function daemonReload(o: ProcOptions = {}): Promise<void> {
  await run(['daemon-reload'], o, TIMEOUT_MS);
}

/** `systemctl try-restart -- UNIT…`: restarts those that run, leaves the others stopped. */
export async function tryRestart(units: readonly string[], o: ProcOptions = {}): Promise<void> {
  const names = checked(units);
  if (names.length === 0) return;
  await run(['try-restart', '--', ...names], o, RESTART_TIMEOUT_MS);
}
