/** `--shard I/N`: which units a shard takes, and what is no shard. */
import { describe, expect, it } from 'vitest';
import { parseShard, shardUnits } from '../../src/parallel/shard.ts';

describe('shards', () => {
  it('I/N takes every N-th unit from the I-th; the N shards cover every unit once', () => {
    expect(shardUnits(10, { index: 2, count: 4 })).toEqual([1, 5, 9]);
    expect(shardUnits(2, { index: 3, count: 4 })).toEqual([]);
    const all = [1, 2, 3, 4].flatMap((index) => shardUnits(10, { index, count: 4 }));
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, u) => u));
  });

  it.each(['3/2', '0/4', '1/0', '1', '/2', '1/2/3', '-1/2', '1.5/2', ' 1/2'])('%j is no shard', (text) => {
    expect(parseShard(text)).toBeNull();
  });

  it('reads I/N', () => {
    expect(parseShard('4/4')).toEqual({ index: 4, count: 4 });
  });
});
