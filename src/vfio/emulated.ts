/**
 * Emulated VFIO devices on iommufd (`vfio_iommufd_emulated_*()` of drivers/vfio/iommufd.c): the
 * mediated devices of vfio-ap, vfio-ccw, mtty and the other mdev drivers, which have no IOMMU of
 * their own. Binding one creates an in-kernel access that pins pages
 * (`iommufd_access_create()` with `needs_pin_pages`), and the access's object id is the device
 * id, so the ops that look up a DEVICE by it (GET_HW_INFO, HWPT_ALLOC, ...) find none: ENOENT.
 * Attaching attaches the access to an IOAS; nothing is pinned until the driver pins
 * (`vfio_pin_pages()`, pin-pages.ts), and an unmap of what it pinned has it unpin first (its
 * `dma_unmap`, called through `iommufd_access_notify_unmap()`).
 */
import { changeIoas, destroyAccess, newAccess } from '../iommufd/device/access.ts';
import { getIoas } from '../iommufd/ioas.ts';
import { putObject } from '../iommufd/main/object-refs.ts';
import { allocId } from '../iommufd/main/object-table.ts';
import type { Choices } from '../model/command.ts';
import { Fail } from '../model/fail.ts';
import type { Ctx, HeaderDevice, World } from '../model/world.ts';

export const isEmulated = (device: HeaderDevice): boolean => device.model.kind === 'emulated';

/** `vfio_iommufd_emulated_bind()`: a new access, detached; its id, a free choice, is the device id. */
export function bindEmulated(ctx: Ctx, choices: Choices, field: string): Fail | { ctx: Ctx; id: number } {
  const id = allocId(ctx.objects, choices, field);
  if (id instanceof Fail) return id;
  return { ctx: putObject(ctx, newAccess(id, true, false)), id };
}

/**
 * `vfio_iommufd_emulated_attach_ioas()`: `iommufd_access_attach()`, or `iommufd_access_replace()`
 * once attached; either looks `pt_id` up as an IOAS (a HWPT is ENOENT), and moving off an IOAS
 * has the driver unpin everything first (`ops->unmap(0, ULONG_MAX)`).
 */
export function attachEmulated(world: World, ctx: Ctx, accessId: number, ptId: number): Fail | Ctx {
  const ioas = getIoas(ctx, ptId);
  if (ioas instanceof Fail) return ioas;
  return changeIoas(world, ctx, accessId, ioas.id);
}

/** `vfio_iommufd_emulated_detach_ioas()` → `iommufd_access_detach()`: the driver unpins everything. */
export function detachEmulated(world: World, ctx: Ctx, accessId: number): Ctx {
  const detached = changeIoas(world, ctx, accessId, null);
  if (detached instanceof Fail) throw new Error('[iommufd-model] detaching an access failed');
  return detached;
}

/** `vfio_iommufd_emulated_unbind()` → `iommufd_access_destroy()`: detached, then gone. */
export const unbindEmulated = (world: World, ctx: Ctx, accessId: number): Ctx => destroyAccess(world, ctx, accessId);
