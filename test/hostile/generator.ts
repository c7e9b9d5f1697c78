/**
 * Malformed and odd traces, made deterministically: file `index` of campaign `seed` is always the
 * same bytes under the same name, whatever was made before it. The family of a file follows a
 * fixed wheel, so that the edge-values family's own count (which decides the place and value it
 * tries) is known from the index alone; everything else draws from the file's own stream.
 */
import type { Bases } from './bases.ts';
import { duplicates } from './families/duplicates.ts';
import { edgeValues } from './families/edge-values.ts';
import { encoding } from './families/encoding.ts';
import { nesting } from './families/nesting.ts';
import { ranges } from './families/ranges.ts';
import { sizes } from './families/sizes.ts';
import type { HostileFile, Made } from './hostile-file.ts';
import { type Rng, fileRng } from './rng.ts';

type Family = (rng: Rng, bases: Bases, k: number) => Made;

const FAMILIES: Readonly<Record<string, Family>> = {
  'edge values': edgeValues,
  nesting,
  duplicates,
  encoding,
  sizes,
  ranges,
};

/** One turn of the wheel: half the files try edge values, the rest share the other families. */
const WHEEL: readonly string[] = [
  'edge values', 'nesting', 'edge values', 'encoding', 'edge values', 'duplicates', 'edge values', 'sizes',
  'edge values', 'ranges', 'edge values', 'encoding', 'edge values', 'nesting', 'edge values', 'duplicates',
  'edge values', 'ranges', 'edge values', 'sizes',
];

/** How many files of the wheel's family at `index` come before it. */
function countBefore(index: number): number {
  const turn = Math.floor(index / WHEEL.length);
  const at = index % WHEEL.length;
  const family = WHEEL[at];
  const perTurn = WHEEL.filter((f) => f === family).length;
  return turn * perTurn + WHEEL.slice(0, at).filter((f) => f === family).length;
}

/** Names a report must print escaped or whole: a line break, bidi controls, quotes, spaces, 200 characters. */
const ODD_NAMES = ['a\nb', '\u202etxt.exe', 'tab\there', 'quote"d', "it's", 'sp ace', '\u00fcn\u00efc\u00f6de', '#', 'x'.repeat(200), '\u2028', '\u001b[31m'];

function nameOf(rng: Rng, index: number): string {
  return rng.chance(0.03) ? `${index}-${rng.pick(ODD_NAMES)}.jsonl` : `${index}.jsonl`;
}

export function generate(seed: number, index: number, bases: Bases): HostileFile {
  const rng = fileRng(seed, index);
  const name = nameOf(rng, index);
  // A path that names no file, or a directory: the reading fails before any line.
  if (rng.chance(0.005)) return { index, family: 'unreadable', what: 'no such file', name, content: 'missing' };
  if (rng.chance(0.005)) return { index, family: 'unreadable', what: 'a directory', name, content: 'directory' };
  const family = WHEEL[index % WHEEL.length] as string;
  const make = FAMILIES[family] as Family;
  return { index, family, name, ...make(rng, bases, countBefore(index)) };
}
