import type { Run } from './run.js';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `juju-log --log-level LEVEL -- MSG` */
export async function jujuLog(run: Run, level: LogLevel, message: string): Promise<void> {
  await run(['juju-log', '--log-level', level, '--', message]);
}
