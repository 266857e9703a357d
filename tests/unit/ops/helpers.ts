import type { Run } from '../../../src/ops/hookcmds/index.js';

/** A Run that records each call and answers with the given stdout. */
export function recorder(stdout = ''): Run & { calls: { argv: string[]; stdin: string | undefined }[] } {
  const calls: { argv: string[]; stdin: string | undefined }[] = [];
  const run = (argv: readonly string[], stdin?: string) => {
    calls.push({ argv: [...argv], stdin });
    return Promise.resolve({ stdout });
  };
  return Object.assign(run, { calls });
}
