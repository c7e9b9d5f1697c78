/**
 * A model snapshot as plain JSON: every process, file, context, object, area and pages object,
 * maps in key order. Two snapshots are the same state exactly when their JSON texts are equal,
 * which is what the determinism checks compare.
 */
import { GapTree } from '../src/model/gap-tree.ts';
import { OrderedMap } from '../src/model/ordered-map.ts';
import type { World } from '../src/model/world.ts';
import type { Json } from './json-value.ts';

function plain(value: unknown): Json {
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof OrderedMap) return [...value.entries()].map(([k, v]) => [plain(k), plain(v)]);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Set) return [...value].map(plain);
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(value as object)) {
    // An index derived from other fields (the used-span tree) is no state of its own.
    if (!(v instanceof GapTree)) out[k] = plain(v);
  }
  return out;
}

export function worldToJson(world: World): Json {
  return plain(world);
}
