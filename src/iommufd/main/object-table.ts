/**
 * Object ids of one iommufd context (`iommufd_object_alloc()`): an xarray with XA_FLAGS_ALLOC1
 * and `xa_limit_31b`, so the lowest free id ≥ 1 and at most 2^31 - 1. An id is taken when the
 * object is allocated, mid-command; a command that fails gives it back, which the model gets
 * for free by returning the snapshot it started from.
 */
import type { Choices } from '../../model/command.ts';
import type { Fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import type { OrderedMap } from '../../model/ordered-map.ts';

export const ID_MAX = 2 ** 31 - 1;

export function lowestFreeId(objects: OrderedMap<number, unknown>): number {
  let expected = 1;
  for (const id of objects.keys()) {
    if (id !== expected) return expected;
    expected++;
  }
  return expected;
}

/**
 * The id a new object gets: the recorded one when it is legal (free, 1..2^31-1), else the
 * kernel's. Allocating the object is an injection point (ENOMEM), before the id is taken.
 */
export function allocId(objects: OrderedMap<number, unknown>, choices: Choices, field: string): Fail | number {
  const nomem = injected();
  if (nomem !== null) return nomem;
  const recorded = choices.proposed(field);
  if (typeof recorded === 'bigint') {
    if (recorded >= 1n && recorded <= BigInt(ID_MAX) && !objects.has(Number(recorded))) return Number(recorded);
    choices.reject(field, recorded, recorded >= 1n && recorded <= BigInt(ID_MAX) ? 'id in use' : 'not a valid id');
  }
  return lowestFreeId(objects);
}
