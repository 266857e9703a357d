import { z } from 'zod';
import { main } from './ops/index.js';
import { VrfHostCharm } from './charm.js';
import { MEMO_HOOKS, memoMissed, memoPath, obsoleteMemoPaths, statusMemoryPath } from './charm/memo.js';

// A hook parses each schema a handful of times: zod's JIT (a `new Function` per object schema on
// its first parse) costs more than it saves there (the full update-status: 174 → 152 ms measured).
z.config({ jitless: true });

const missed = memoMissed(process.env);
void main(VrfHostCharm, {
  memo: {
    path: memoPath(process.env),
    hooks: MEMO_HOOKS,
    obsolete: obsoleteMemoPaths(process.env),
    ...(missed !== undefined ? { missed } : {}),
  },
  statusMemory: statusMemoryPath(process.env),
});
