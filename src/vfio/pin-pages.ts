/**
 * What an emulated device's driver does with the guest memory VFIO gives it
 * (`vfio_pin_pages()`, `vfio_unpin_pages()` of drivers/vfio/vfio_main.c): not ioctls, but the
 * trace records them, on the device `dev` names (or the event's device fd), `npage` pages from
 * the page of `iova`. On iommufd they are the pins of the device's access
 * (`iommufd_access_pin_pages()`), charged as they are pinned; through a native container they
 * would be its type1 driver's, which the model does not follow.
 */
import { addItem, destroyItem, pinPages } from '../iommufd/device/access.ts';
import { putContext } from '../iommufd/main/context.ts';
import { type Call, type Result, big, ok, refuse } from '../model/command.ts';
import { Fail, fail } from '../model/fail.ts';
import type { Ctx, World } from '../model/world.ts';
import { type Target, targetOf } from './device-cdev.ts';
import { isEmulated } from './emulated.ts';
import { groupOpens } from './store.ts';

/** `IOMMU_WRITE` of include/linux/iommu.h. */
const IOMMU_WRITE = 2n;
const U64 = 64;

/** The device the event names; naming none is malformed input (a driver acts on a device it has). */
function deviceOf(call: Call): Target {
  const target = targetOf(call);
  if (target === null) throw new Error(`[iommufd-model] ${call.event.op} names no header device (dev, or a device fd)`);
  return target;
}

/** The access an open emulated device's pins go through; `null` when it was opened through a native container. */
type Pinner = { readonly ctx: Ctx; readonly access: number } | null;

/**
 * What the checks both functions open with find: the device must be open (`vfio_assert_device_open()`)
 * and its driver have `dma_unmap` (an emulated device's does; a PCI driver's does not).
 */
function pinnerOf(world: World, target: Target): Fail | Pinner {
  const { device, index } = target;
  if (device.bound === null && groupOpens(world, index) === 0) return fail('EINVAL', 'vfio_pin_pages', 'the device is not open');
  if (!isEmulated(device)) return fail('EINVAL', 'vfio_pin_pages', 'the driver has no dma_unmap');
  if (device.bound === null) return null;
  const ctx = world.contexts.get(device.bound.ctx);
  if (ctx === undefined) throw new Error('[iommufd-model] a bound device outlived its context');
  return { ctx, access: device.bound.device };
}

/** The byte range `npage` pages from the page of `iova` are: `npage * PAGE_SIZE` as an unsigned long. */
function rangeOf(world: World, iova: bigint, npage: bigint): { iova: bigint; length: bigint } {
  const { pageSize } = world.config;
  return { iova: iova - (iova % pageSize), length: BigInt.asUintN(U64, npage * pageSize) };
}

/** `vfio_pin_pages()`: no pages is EINVAL; on iommufd the access pins them and the call returns `npage`. */
export function vfioPinPages(call: Call): Result | null {
  const target = deviceOf(call);
  const args = call.event.args?.fields ?? {};
  const npage = big(args, 'npage');
  if (npage === 0n) return refuse(call, fail('EINVAL', 'vfio_pin_pages', 'npage is 0'));
  const pinner = pinnerOf(call.world, target);
  if (pinner instanceof Fail) return refuse(call, pinner);
  if (pinner === null) return null;
  const { iova, length } = rangeOf(call.world, big(args, 'iova'), npage);
  const pinned = pinPages(call.world, pinner.ctx, pinner.access, iova, length, (big(args, 'prot') & IOMMU_WRITE) !== 0n);
  if (pinned instanceof Fail) return refuse(call, pinned);
  return { ...ok(putContext(call.world, addItem(pinned.ctx, pinner.access, pinned.item))), ret: npage };
}

/**
 * `vfio_unpin_pages()` → `iommufd_access_unpin_pages()`: returns nothing. What was pinned with
 * the same range is unpinned; another range is a driver bug the kernel only warns about
 * (`iopt_area_remove_access()` finds no such access), and nothing changes.
 */
export function vfioUnpinPages(call: Call): Result | null {
  const target = deviceOf(call);
  const args = call.event.args?.fields ?? {};
  const pinner = pinnerOf(call.world, target);
  if (pinner instanceof Fail) return ok(call.world);
  if (pinner === null) return null;
  const { iova, length } = rangeOf(call.world, big(args, 'iova'), big(args, 'npage'));
  const access = pinner.ctx.objects.get(pinner.access);
  if (access?.type !== 'access') throw new Error(`[iommufd-model] device ${target.device.model.name} has no access`);
  const item = [...access.items.values()].find((i) => i.iova === iova && i.length === length);
  if (item === undefined) return ok(call.world);
  const next = destroyItem(call.world, pinner.ctx, pinner.access, item.id);
  if (next instanceof Fail) throw new Error('[iommufd-model] an item vanished as it was unpinned');
  return ok(putContext(call.world, next));
}
