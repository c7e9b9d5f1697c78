/**
 * The one adapter over immer: `revise(record, draft => { ... })` returns a record with the
 * changes, sharing everything it did not touch, or the very same record when the recipe changed
 * nothing. Large collections are persistent ordered maps (not drafted, just reassigned), so a
 * revision costs what it changes, never a copy of a whole table.
 *
 * A command builds its next snapshot in one copy-on-write pass (`inCommand`): the first revision
 * of a record of the old snapshot copies it once, later revisions in the same command edit that
 * private copy in place, and the copies are frozen when the command ends. Between commands every
 * snapshot is frozen; a failed command drops its copies and returns the snapshot it was given.
 * Outside a command (building a world, tests) every revision is frozen at once.
 *
 * Recipes assign whole fields (`d.iopt = next`) and never edit nested ones: the draft is typed
 * as the record with its own fields writable, so tsc rejects a nested edit, and immer only ever
 * copies the one record. Since a record made in the running command is edited in place, code
 * reads what it needs from a record before revising it, makes its checks before its effects,
 * and calls `keepForFallback()` before an attempt whose failure it recovers from.
 */
import { type Draft, Immer, freeze } from 'immer';

/** A record whose own fields may be reassigned (not those of the records it holds). */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type Recipe<T> = (draft: Mutable<T>) => void;

const frozen = new Immer({ autoFreeze: true });
const unfrozen = new Immer({ autoFreeze: false });

/** The records the running command made, still open to edits; null between commands. */
let made: Set<object> | null = null;

export function revise<T extends object>(base: T, recipe: Recipe<T>): T {
  if (made === null) return frozen.produce(base, recipe as (draft: Draft<T>) => void);
  if (made.has(base)) {
    recipe(base as Mutable<T>);
    return base;
  }
  const next = unfrozen.produce(base, recipe as (draft: Draft<T>) => void);
  if (next !== base) made.add(next);
  return next;
}

/**
 * Ends in-place editing of what the running command made so far. Code that tries something and,
 * when it fails, goes on from the state it had before calls this first: the attempt then copies
 * what it changes instead of editing the state it may fall back to.
 */
export function keepForFallback(): void {
  if (made === null) return;
  for (const record of made) freeze(record, true);
  made.clear();
}

/** Runs one command as a single copy-on-write pass, freezing what it made when it ends. */
export function inCommand<R>(command: () => R): R {
  if (made !== null) return command();
  const records = new Set<object>();
  made = records;
  try {
    return command();
  } finally {
    made = null;
    for (const record of records) freeze(record, true);
  }
}
