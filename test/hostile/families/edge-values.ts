/**
 * Every place with every edge value. The k-th file of this family is about place
 * `k mod places`. At a header place it tries one value, value `(round + slot * 7) mod n`, so
 * that the first files reach every place with another value and later rounds go on through
 * the values. At an event place it tries them all: every value the reader takes, each in a line
 * of its own, so that the model meets them all, then one it refuses (in turn), which ends the
 * file with an error.
 */
import { readEventLine } from '../../../events/trace-line.ts';
import type { Bases } from '../bases.ts';
import { valuesFor } from '../edge-values.ts';
import { brief, fileOf, type Made } from '../hostile-file.ts';
import { type Json, setAt, text } from '../json-text.ts';
import { PLACES, type Place } from '../places.ts';
import { contextOf, valueAt } from '../place-value.ts';
import type { Rng } from '../rng.ts';

/**
 * Whether the reader takes an event line; whatever else it does is the command's to show. Most
 * values are refused, and the stack each refusal would record is most of its cost.
 */
function taken(line: string): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    readEventLine(line, 'edge.jsonl', 2);
    return true;
  } catch {
    return false;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export function edgeValues(rng: Rng, bases: Bases, k: number): Made {
  const slot = k % PLACES.length;
  const round = Math.floor(k / PLACES.length);
  const place = PLACES[slot] as Place;
  const values = valuesFor(place.hint);
  if (place.line === 'header') {
    const value = values[(round + slot * 7) % values.length] ?? null;
    return { what: `${place.name} = ${brief(text(value))}`, content: fileOf(valueAt(rng, bases, place, value).lines) };
  }
  const { before, line, after } = contextOf(rng, bases, place);
  const lines = values.map((value): [Json, string] => [value, text(setAt(line, place.path, value))]);
  const good = lines.filter(([, l]) => taken(l));
  const bad = lines.filter(([, l]) => !taken(l));
  const [last, lastLine] = bad[(round + slot * 7) % Math.max(1, bad.length)] ?? [undefined, undefined];
  const ending = lastLine === undefined ? [] : [lastLine];
  const what = `${place.name}: ${good.length} values taken${last === undefined ? '' : `, then ${brief(text(last))}`}`;
  return { what, content: fileOf([...before, ...good.map(([, l]) => l), ...after, ...ending]) };
}
