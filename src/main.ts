import { z } from 'zod';
import { main } from './ops/index.js';
import { VrfHostCharm } from './charm.js';
import { BUILD, MEMO_HOOKS, MISSED_KEY, memoPath, statusMemoryPath } from './charm/memo.js';

// A hook parses each schema a handful of times: zod's JIT (a `new Function` per object schema on
// its first parse) costs more than it saves there (the full update-status: 174 → 152 ms measured).
z.config({ jitless: true });

const missed = (globalThis as Record<symbol, unknown>)[MISSED_KEY];
void main(VrfHostCharm, {
  memo: {
    path: memoPath(process.env),
    build: BUILD,
    hooks: MEMO_HOOKS,
    ...(typeof missed === 'string' ? { missed } : {}),
  },
  statusMemory: statusMemoryPath(process.env),
});
