/**
 * Whether a device's MSIs are isolated (`iommu_group_has_isolated_msi()`: interrupt remapping,
 * or an MSI controller that isolates), so that a DMA write from the device cannot raise another
 * context's interrupt, and what `iommufd_device_bind()` makes of a device whose are not.
 */
import { type Fail, fail } from '../model/fail.ts';
import type { World } from '../model/world.ts';

/** Every header device of the device's IOMMU group has its MSIs isolated. */
export function groupMsiIsolated(world: World, index: number): boolean {
  const group = world.devices[index]?.model.group;
  return !world.vfio.config.msiNotIsolated.some((i) => world.devices[i]?.model.group === group);
}

/**
 * `iommufd_device_bind()`: a device whose group does not isolate MSIs binds only with
 * `iommufd.allow_unsafe_interrupts` (EPERM); the selftest's mock devices are not asked
 * (`iommufd_selftest_is_mock_dev()`).
 */
export function msiBindRefusal(world: World, index: number): Fail | null {
  if (world.devices[index]?.model.kind === 'mock' || groupMsiIsolated(world, index) || world.vfio.config.iommufdUnsafeInterrupts) return null;
  return fail('EPERM', 'iommufd_device_bind', 'MSIs are not isolated and allow_unsafe_interrupts is off');
}
