/**
 * A shard of a run: `I/N` takes every N-th unit starting at the I-th (both from 1), so that N
 * shards, I = 1 to N, split the units between them with none left out and none taken twice.
 * A unit is a trace file (replay, audit), counted in argument order, or a fuzz run index.
 */
export interface Shard {
  /** From 1 to `count`. */
  readonly index: number;
  readonly count: number;
}

/** The shard that is the whole run. */
export const WHOLE: Shard = { index: 1, count: 1 };

/** `I/N` with 1 ≤ I ≤ N, else null. */
export function parseShard(text: string): Shard | null {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(text);
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return Number.isSafeInteger(count) && index >= 1 && index <= count ? { index, count } : null;
}

export const showShard = (s: Shard): string => `${s.index}/${s.count}`;

/** The units of `shard` among `total` units, as indices from 0, in order. */
export function shardUnits(total: number, shard: Shard): number[] {
  const units: number[] = [];
  for (let u = shard.index - 1; u < total; u += shard.count) units.push(u);
  return units;
}
