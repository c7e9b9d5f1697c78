/**
 * The seed of each run of a fuzz campaign. Run `run` (from 0) of the campaign seeded `seed`
 * draws from fast-check seeded `runSeed(seed, run)`, which depends on those two numbers alone:
 * however the campaign is split (threads, shards, `--run`), each run is the same run.
 *
 * The mix: x = seed + (run + 1) * 0x9e3779b9 (mod 2^32; the odd constant is 2^32 over the golden
 * ratio), then murmur3's 32-bit finaliser (fmix32) over x. Both steps are bijections of 32-bit
 * words, so the runs of one campaign below 2^32 all have distinct seeds.
 */
export function runSeed(seed: number, run: number): number {
  let h = (seed + Math.imul(run + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The runs a campaign can have: past this, `runSeed` would give a run the seed of another. */
export const MAX_RUNS = 2 ** 32;
