import { main } from './ops/index.js';
import { VrfHostCharm } from './charm.js';
import { BUILD, MEMO_HOOKS, MISSED_KEY, memoPath } from './charm/memo.js';

const missed = (globalThis as Record<symbol, unknown>)[MISSED_KEY];
void main(VrfHostCharm, {
  memo: { path: memoPath(process.env), build: BUILD, hooks: MEMO_HOOKS, ...(typeof missed === 'string' ? { missed } : {}) },
});
