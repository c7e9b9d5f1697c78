/**
 * The one adapter over immer: `revise(record, draft => { ... })` returns a new frozen record
 * with the changes, sharing everything it did not touch, or the very same record when the
 * recipe changed nothing. Large collections are persistent ordered maps (not drafted, just
 * reassigned), so a revision costs what it changes, never a copy of a whole table.
 */
import { type Draft, castDraft, produce } from 'immer';

export type { Draft };
export { castDraft };

export function revise<T extends object>(base: T, recipe: (draft: Draft<T>) => void): T {
  return produce(base, recipe);
}
