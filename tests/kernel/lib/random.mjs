// A small seeded PRNG (mulberry32) so that randomised scenarios print a seed that replays them.
/** @param {number} seed */
export function seededRandom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** @param {number} n */
    int: (n) => Math.floor(next() * n),
    /**
     * @template T
     * @param {readonly T[]} xs a non-empty list
     * @returns {T}
     */
    pick: (xs) => {
      const x = xs[Math.floor(next() * xs.length)];
      if (x === undefined) throw new Error('pick from an empty list');
      return x;
    },
    /**
     * @template T
     * @param {readonly T[]} xs
     * @returns {T[]}
     */
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        // both indexes are in range: i < out.length, j <= i
        [out[i], out[j]] = [/** @type {T} */ (out[j]), /** @type {T} */ (out[i])];
      }
      return out;
    },
  };
}

/** The seed to use: VRF_HOST_SEED when set (replay), else a fresh one. */
export function seedFromEnv() {
  const s = process.env.VRF_HOST_SEED;
  if (s !== undefined && s !== '') {
    if (!/^\d+$/.test(s)) throw new Error(`VRF_HOST_SEED must be a non-negative integer, got ${s}`);
    return Number(s) >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}
