/**
 * An in-kernel access (`struct iommufd_access`): created detached, attached to one IOAS at a
 * time (replace moves it), holding pinned items while attached. The creating driver holds a
 * reference until it destroys the access, so IOMMU_DESTROY of an access id is always EBUSY.
 */
import { assign, setup } from 'xstate';

export interface AccessContext {
  readonly users: number;
  readonly items: number;
}

export type AccessEvent =
  | { type: 'ATTACH' }
  | { type: 'DETACH' }
  | { type: 'PIN' }
  | { type: 'UNPIN'; count: number }
  | { type: 'DESTROY' };

export const accessMachine = setup({
  types: { context: {} as AccessContext, events: {} as AccessEvent },
  guards: {
    unused: ({ context }) => context.users === 1,
  },
}).createMachine({
  id: 'access',
  context: { users: 2, items: 0 },
  initial: 'detached',
  states: {
    detached: { on: { ATTACH: 'attached' } },
    attached: {
      on: {
        ATTACH: 'attached',
        DETACH: 'detached',
        PIN: { actions: assign({ items: ({ context }) => context.items + 1 }) },
        UNPIN: { actions: assign({ items: ({ context, event }) => context.items - event.count }) },
      },
    },
  },
  on: {
    DESTROY: { guard: 'unused' },
  },
});
