// A small seeded PRNG (mulberry32) so that randomised scenarios print a seed that replays them.
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
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
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
