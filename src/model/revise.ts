/**
 * The one adapter over immer: `revise(record, draft => { ... })` returns a new frozen record
 * with the changes, sharing everything it did not touch, or the very same record when the
 * recipe changed nothing. Large collections are persistent ordered maps (not drafted, just
 * reassigned), so a revision costs what it changes, never a copy of a whole table.
 *
 * Recipes assign whole fields (`d.iopt = next`) and never edit nested ones: the draft is typed
 * as the record with its own fields writable, so tsc rejects a nested edit, and immer only ever
 * copies the one record.
 */
import { type Draft, produce } from 'immer';

/** A record whose own fields may be reassigned (not those of the records it holds). */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function revise<T extends object>(base: T, recipe: (draft: Mutable<T>) => void): T {
  return produce(base, recipe as (draft: Draft<T>) => void);
}
