/**
 * A key given twice at any place, spelled the same, with an escape that reads as the same key,
 * or after many other keys (where the reader compares keys another way); and a key that only
 * looks like another (its case changed), which is no duplicate.
 */
import type { Bases } from '../bases.ts';
import { valuesFor } from '../edge-values.ts';
import { fileOf, type Made } from '../hostile-file.ts';
import { type Json, duplicateAt, escapedKey, setAt } from '../json-text.ts';
import { PLACES, type Place } from '../places.ts';
import { editAt } from '../place-value.ts';
import type { Rng } from '../rng.ts';

const KEYED = PLACES.filter((p) => typeof p.path[p.path.length - 1] === 'string');
const SPELLINGS = ['same', 'escaped', 'after many keys', 'case changed'] as const;

export function duplicates(rng: Rng, bases: Bases): Made {
  const place: Place = rng.pick(KEYED);
  const key = place.path[place.path.length - 1] as string;
  const values = valuesFor(place.hint);
  const [first, second] = [rng.pick(values), rng.pick(values)];
  const spelling = rng.pick(SPELLINGS);
  const edit = (line: Json): Json => {
    let out = line;
    if (spelling === 'after many keys') {
      for (let i = 0; i < 20; i++) out = setAt(out, [...place.path.slice(0, -1), `k${i}`], i);
    }
    const text =
      spelling === 'escaped' ? escapedKey(key, rng.next()) : spelling === 'case changed' ? JSON.stringify(key.toUpperCase()) : undefined;
    return duplicateAt(out, place.path, first, second, text);
  };
  return { what: `${place.name} given twice, ${spelling}`, content: fileOf(editAt(rng, bases, place, edit).lines) };
}
