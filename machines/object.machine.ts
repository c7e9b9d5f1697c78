/**
 * The lifecycle every iommufd object shares (`struct iommufd_object`): a `users` count that
 * starts with the object table's own reference, and `IOMMU_DESTROY` succeeding only while the
 * table is the sole user (`iommufd_object_remove()`: EBUSY otherwise). HWPTs, selftest
 * objects and the other plain objects run on this machine; IOAS, device and access machines
 * add their own states on top of the same rule.
 */
import { assign, setup } from 'xstate';

export interface RefContext {
  readonly users: number;
}

export type RefEvent = { type: 'USER_GET' } | { type: 'USER_PUT' } | { type: 'DESTROY' };

export const objectMachine = setup({
  types: {
    context: {} as RefContext,
    events: {} as RefEvent,
    input: {} as { users?: number } | undefined,
  },
  guards: {
    unused: ({ context }) => context.users === 1,
  },
}).createMachine({
  id: 'object',
  context: ({ input }) => ({ users: input?.users ?? 1 }),
  initial: 'live',
  states: {
    live: {
      on: {
        USER_GET: { actions: assign({ users: ({ context }) => context.users + 1 }) },
        USER_PUT: { actions: assign({ users: ({ context }) => context.users - 1 }) },
        DESTROY: { guard: 'unused', target: 'destroyed' },
      },
    },
    destroyed: { type: 'final' },
  },
});
