/**
 * The lifecycle of an IOAS object: whether it holds areas, and its `users` count (the object
 * table's own reference plus one per HWPT_PAGING and per attached access, spec §1.3).
 * `IOMMU_DESTROY` is legal only when the count is exactly the table's reference
 * (`iommufd_object_remove()` fails with EBUSY otherwise).
 */
import { assign, not, setup } from 'xstate';

export interface IoasContext {
  readonly users: number;
}

export type IoasEvent =
  | { type: 'AREAS_CHANGED'; count: number }
  | { type: 'USER_GET' }
  | { type: 'USER_PUT' }
  | { type: 'DESTROY' };

export const ioasMachine = setup({
  types: {
    context: {} as IoasContext,
    events: {} as IoasEvent,
  },
  guards: {
    unused: ({ context }) => context.users === 1,
    hasAreas: ({ event }) => event.type === 'AREAS_CHANGED' && event.count > 0,
  },
}).createMachine({
  id: 'ioas',
  context: { users: 1 },
  initial: 'empty',
  states: {
    empty: {
      on: { AREAS_CHANGED: { guard: 'hasAreas', target: 'populated' } },
    },
    populated: {
      on: { AREAS_CHANGED: { guard: not('hasAreas'), target: 'empty' } },
    },
    destroyed: { type: 'final' },
  },
  on: {
    USER_GET: { actions: assign({ users: ({ context }) => context.users + 1 }) },
    USER_PUT: { actions: assign({ users: ({ context }) => context.users - 1 }) },
    DESTROY: { guard: 'unused', target: '.destroyed' },
  },
});
