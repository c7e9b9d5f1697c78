/**
 * What VFIO's core asks of a device's driver as the device is opened on an iommufd and last
 * closed (`vdev->ops->bind_iommufd()`, `->close_device()`, `->unbind_iommufd()`): the physical
 * ops bind and unbind an iommufd DEVICE (drivers/iommu/iommufd/device.c), the emulated ones an
 * access (emulated.ts); closing a PCI device revokes the dma-bufs it exported.
 */
import { bindDevice, unbind } from '../iommufd/device/device.ts';
import type { Choices } from '../model/command.ts';
import { Fail } from '../model/fail.ts';
import type { Ctx, HeaderDevice, World } from '../model/world.ts';
import { revokeDeviceDmabufs } from '../mm/dma-buf.ts';
import { bindEmulated, isEmulated, unbindEmulated } from './emulated.ts';

/** `vdev->ops->bind_iommufd()`: an access for an emulated device, a DEVICE for any other; its id is the device id. */
export function bindOps(device: HeaderDevice, ctx: Ctx, choices: Choices, field: string): Fail | { ctx: Ctx; id: number } {
  if (isEmulated(device)) return bindEmulated(ctx, choices, field);
  const bound = bindDevice(ctx, choices, field, () => device.model);
  return bound instanceof Fail ? bound : { ctx: bound.ctx, id: bound.device.id };
}

/** `vdev->ops->unbind_iommufd()` of the object bound as `id`, with everything it attached. */
export const unbindOps = (world: World, ctx: Ctx, device: HeaderDevice, id: number): Ctx =>
  isEmulated(device) ? unbindEmulated(world, ctx, id) : unbind(world, ctx, id);

/**
 * `vdev->ops->close_device()` of header device `index`: vfio-pci's revokes its dma-bufs
 * (`vfio_pci_core_close_device()` → `vfio_pci_dma_buf_cleanup()`); an emulated device
 * exports none.
 */
export const closeDevice = (world: World, index: number): World => revokeDeviceDmabufs(world, index);
