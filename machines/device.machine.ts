/**
 * A bound device (`struct iommufd_device`): bound, then attached to a page table for one or
 * more PASIDs. Its users are the table, the binding driver (until unbind, so IOMMU_DESTROY of
 * a device id is always EBUSY), one per attachment (`iommufd_device_attach()` takes a
 * reference so a device cannot go while attached) and its VDEVICE, which keeps the lookup
 * reference it took (`iommufd_vdevice_alloc_ioctl()`).
 */
import { assign, setup } from 'xstate';

export interface DeviceContext {
  readonly users: number;
  readonly attachments: number;
}

export type DeviceEvent =
  | { type: 'ATTACH' }
  | { type: 'DETACH' }
  | { type: 'USER_GET' }
  | { type: 'USER_PUT' }
  | { type: 'DESTROY' };

export const deviceMachine = setup({
  types: { context: {} as DeviceContext, events: {} as DeviceEvent },
  guards: {
    unused: ({ context }) => context.users === 1,
    lastAttachment: ({ context }) => context.attachments === 1,
  },
  actions: {
    attach: assign({ users: ({ context }) => context.users + 1, attachments: ({ context }) => context.attachments + 1 }),
    detach: assign({ users: ({ context }) => context.users - 1, attachments: ({ context }) => context.attachments - 1 }),
  },
}).createMachine({
  id: 'device',
  context: { users: 2, attachments: 0 },
  initial: 'bound',
  states: {
    bound: {
      on: { ATTACH: { target: 'attached', actions: 'attach' } },
    },
    attached: {
      on: {
        ATTACH: { actions: 'attach' },
        DETACH: [{ guard: 'lastAttachment', target: 'bound', actions: 'detach' }, { actions: 'detach' }],
      },
    },
  },
  on: {
    USER_GET: { actions: assign({ users: ({ context }) => context.users + 1 }) },
    USER_PUT: { actions: assign({ users: ({ context }) => context.users - 1 }) },
    DESTROY: { guard: 'unused' },
  },
});
