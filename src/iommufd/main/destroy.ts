/**
 * `IOMMU_DESTROY` (`iommufd_destroy()`, spec §3.1/§1.4): an object goes only when nothing but
 * the object table holds it, which its lifecycle machine decides; then its type's destroy runs.
 */
import { putContext } from './context.ts';
import type { Fields } from '../../../events/types.ts';
import { accepts } from '../../../machines/adapter.ts';
import { accessMachine } from '../../../machines/access.machine.ts';
import { deviceMachine } from '../../../machines/device.machine.ts';
import { ioasMachine } from '../../../machines/ioas.machine.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, num, ok, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { destroyFault } from '../eventq/fault.ts';
import { destroyHwQueue } from '../viommu/hw-queue.ts';
import { destroyHwptPaging } from '../hw-pagetable/hw-pagetable.ts';
import { destroyHwptNested } from '../hw-pagetable/hwpt-nested.ts';
import { liveObject } from './object-refs.ts';
import { destroyVeventq } from '../eventq/veventq.ts';
import { destroyViommu, removeVdevice } from '../viommu/viommu.ts';
import { dropAreaRefs } from '../pages/pages.ts';
import { revise } from '../../model/revise.ts';
import { destroySelftestDev } from '../selftest/selftest-device.ts';
import type { Ctx, Ioas, IommuObject, World } from '../../model/world.ts';

const DESTROY = { type: 'DESTROY' } as const;

/** Whether only the object table holds the object (`refcount == 1`). */
export function destroyable(obj: IommuObject): boolean {
  switch (obj.type) {
    case 'ioas':
      return accepts(ioasMachine, obj.lifecycle, DESTROY);
    case 'device':
      return accepts(deviceMachine, obj.lifecycle, DESTROY);
    case 'access':
      return accepts(accessMachine, obj.lifecycle, DESTROY);
    case 'hwpt_paging':
    case 'hwpt_nested':
    case 'selftest':
    case 'viommu':
    case 'vdevice':
    case 'veventq':
    case 'fault':
    case 'hw_queue':
      return accepts(objectMachine, obj.lifecycle, DESTROY);
    case 'tombstone':
      return false;
  }
}

/** The type's destroy action, for an object nothing else holds. */
export function destroyObject(world: World, ctx: Ctx, obj: IommuObject): Ctx {
  switch (obj.type) {
    case 'ioas':
      return destroyIoas(ctx, obj);
    case 'hwpt_paging':
      return destroyHwptPaging(world, ctx, obj);
    case 'selftest':
      return destroySelftestDev(world, ctx, obj);
    case 'hwpt_nested':
      return destroyHwptNested(ctx, obj);
    case 'viommu':
      return destroyViommu(ctx, obj);
    case 'vdevice':
      return removeVdevice(ctx, obj, false);
    case 'veventq':
      return destroyVeventq(ctx, obj);
    case 'fault':
      return destroyFault(ctx, obj);
    case 'hw_queue':
      return destroyHwQueue(world, ctx, obj);
    case 'tombstone':
      throw new Error('[iommufd-model] a tombstone is no object to destroy');
    case 'device':
    case 'access':
      throw new Error(`[iommufd-model] a ${obj.type} is destroyed by its driver, not by IOMMU_DESTROY`);
  }
}

export function destroy(call: Call, ctx: Ctx, cmd: Fields): Result {
  // A tombstone is absent to lookups: ENOENT, like an id never used.
  const obj = liveObject(ctx, num(cmd, 'id'));
  if (obj === undefined) return refuse(call, fail('ENOENT', 'iommufd_object_remove', 'no object with this id'));
  if (!destroyable(obj)) return refuse(call, fail('EBUSY', 'iommufd_object_remove', 'object still has users'));
  return ok(putContext(call.world, destroyObject(call.world, ctx, obj)));
}

/** `iommufd_ioas_destroy()`: every area goes with it, and a compat pointer to it is cleared. */
export function destroyIoas(ctx: Ctx, ioas: Ioas): Ctx {
  const next = dropAreaRefs(ctx, [...ioas.iopt.areas.values()]);
  return revise(next, (d) => {
    d.objects = next.objects.delete(ioas.id);
    if (d.vfioIoas === ioas.id) d.vfioIoas = null;
  });
}
