/**
 * A value nested at the limit of 64 levels (63, 64, 65, 66 for the whole line) or far past it
 * (thousands of levels, and 100,000), as arrays, objects, both, or left open, at any place: the
 * header's params and devices, `args`, `data`, `records`, `expect.out`, `seq`, a key of no
 * meaning.
 */
import type { Bases } from '../bases.ts';
import { fileOf, type Made } from '../hostile-file.ts';
import { Raw, depthAt } from '../json-text.ts';
import { PLACES } from '../places.ts';
import { valueAt } from '../place-value.ts';
import type { Rng } from '../rng.ts';

const DEPTHS = [63, 64, 64, 65, 66, 1000, 1500, 4000, 100_000];
const SHAPES = ['arrays', 'objects', 'mixed', 'unclosed'] as const;

/** A value `depth` levels deep, by itself. */
function nest(shape: (typeof SHAPES)[number], depth: number): string {
  switch (shape) {
    case 'arrays':
      return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    case 'objects':
      return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    case 'mixed': {
      const open = Array.from({ length: depth }, (_, i) => (i % 2 === 0 ? '[' : '{"k":'));
      const close = open.map((o) => (o === '[' ? ']' : '}')).reverse();
      return `${open.join('')}"x"${close.join('')}`;
    }
    case 'unclosed':
      return `${'[{"a":'.repeat(Math.ceil(depth / 2))}1`;
  }
}

/** Marks where the nested value goes: a line's JSON text never holds a raw NUL. */
const HOLE = '\u0000';

export function nesting(rng: Rng, bases: Bases): Made {
  const place = rng.pick(PLACES);
  const { lines, target } = valueAt(rng, bases, place, new Raw(HOLE));
  const line = lines[target] as string;
  const at = line.indexOf(HOLE);
  const total = rng.pick(DEPTHS);
  const shape = rng.pick(SHAPES);
  lines[target] = `${line.slice(0, at)}${nest(shape, Math.max(1, total - depthAt(line, at)))}${line.slice(at + 1)}`;
  return { what: `${place.name}: ${shape} to ${total} levels`, content: fileOf(lines) };
}
