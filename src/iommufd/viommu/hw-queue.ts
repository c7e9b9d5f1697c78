/**
 * HW queues (viommu.c `iommufd_hw_queue_alloc_ioctl()`, spec §3.21) on the mock vIOMMU: the
 * guest queue's pages are pinned through an internal ACCESS on the nesting parent's IOAS,
 * which locks their areas against IOAS_UNMAP (EBUSY) until the queue is destroyed. The mock
 * takes queues 0 and 1, each index once, index 1 only after 0, and makes 1 depend on 0.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { addItem, changeIoas, destroyAccess, newAccess, pinPages } from '../device/access.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_TEST_HW_QUEUE_MAX } from '../selftest/mock.ts';
import { allocId, lowestFreeId } from '../main/object-table.ts';
import { adjustUsers, dropObject, lookup, mustGet, putObject } from '../main/object-refs.ts';
import { pinnedAt } from '../pages/pages.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { AccessItem, Ctx, HwQueue, World } from '../../model/world.ts';

/** Whether the item's pages are physically contiguous, as the HW reads them by physical address. */
function contiguous(ctx: Ctx, item: AccessItem): boolean {
  let prev: { obj: string; index: bigint } | null = null;
  for (const h of item.holds) {
    const pages = ctx.pages.get(h.pages);
    const held = pages?.holds.find((x) => x.key === h.key);
    if (pages === undefined || held === undefined) return false;
    for (let i = held.first; i <= held.last; i++) {
      const p = pinnedAt(pages, i);
      if (p === null || (prev !== null && (p.obj !== prev.obj || p.index !== prev.index + 1n))) return false;
      prev = p;
    }
  }
  return true;
}

/**
 * `iommufd_hw_queue_alloc_phys()`: an internal access on the IOAS pins
 * `[align_down(iova), align_up(iova + length))` for reading; the span overflowing is ERANGE,
 * pages that are not physically contiguous EFAULT. Returns the access id.
 */
function pinQueue(world: World, ctx: Ctx, ioasId: number, iova: bigint, length: bigint): Fail | { ctx: Ctx; access: number } {
  const { pageSize } = world.config;
  const aligned = iova - (iova % pageSize);
  const span = iova - aligned + length;
  if (span > U64_MAX || span + pageSize - 1n > U64_MAX) return fail('ERANGE', 'iommufd_hw_queue_alloc_phys', 'page span overflows');
  const bytes = ((span + pageSize - 1n) / pageSize) * pageSize;
  const id = lowestFreeId(ctx.objects);
  const attached = changeIoas(world, putObject(ctx, newAccess(id, true, true)), id, ioasId);
  if (attached instanceof Fail) return attached;
  const pinned = pinPages(world, attached, id, aligned, bytes, false);
  if (pinned instanceof Fail) return pinned;
  if (!contiguous(pinned.ctx, pinned.item)) return fail('EFAULT', 'iommufd_hw_queue_alloc_phys', 'pages not physically contiguous');
  return { ctx: addItem(pinned.ctx, id, pinned.item), access: id };
}

export function hwQueueAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  const type = big(cmd, 'type');
  if (big(cmd, 'flags') !== 0n || type === 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_hw_queue_alloc_ioctl', 'flags set or default type'));
  }
  const length = big(cmd, 'length');
  if (length === 0n) return refuse(call, fail('EINVAL', 'iommufd_hw_queue_alloc_ioctl', 'length is 0'));
  const iova = big(cmd, 'nesting_parent_iova');
  if (iova + length - 1n > U64_MAX) {
    return refuse(call, fail('EOVERFLOW', 'iommufd_hw_queue_alloc_ioctl', 'iova + length - 1 overflows'));
  }
  const viommu = lookup(ctx, num(cmd, 'viommu_id'), 'viommu');
  if (viommu instanceof Fail) return refuse(call, viommu);
  // `get_hw_queue_size()`: the mock vIOMMU serves its own type only.
  if (type !== IOMMU_HW_QUEUE_TYPE_SELFTEST) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_hw_queue_alloc_ioctl', 'no HW queue of this type'));
  }
  const id = allocId(ctx.objects, call.choices, 'out_hw_queue_id');
  if (id instanceof Fail) return refuse(call, id);
  const reserved = putObject(ctx, { type: 'tombstone', id });
  const ioas = mustGet(ctx, viommu.hwpt, 'hwpt_paging').ioas;
  const pinned = pinQueue(call.world, reserved, ioas, iova, length);
  if (pinned instanceof Fail) return refuse(call, pinned);
  // `mock_hw_queue_init_phys()`.
  const index = num(cmd, 'index');
  if (index >= IOMMU_TEST_HW_QUEUE_MAX) return refuse(call, fail('EINVAL', 'mock_hw_queue_init_phys', 'index over max'));
  if (viommu.hwQueues.has(index)) return refuse(call, fail('EEXIST', 'mock_hw_queue_init_phys', 'index taken'));
  const prev = index > 0 ? viommu.hwQueues.get(index - 1) : undefined;
  if (index > 0 && prev === undefined) return refuse(call, fail('EIO', 'mock_hw_queue_init_phys', 'previous index not allocated'));
  const queue: HwQueue = {
    type: 'hw_queue',
    id,
    lifecycle: initialRecord(objectMachine),
    viommu: viommu.id,
    index,
    access: pinned.access,
    prev: prev ?? null,
  };
  let next = putObject(pinned.ctx, queue);
  if (prev !== undefined) next = adjustUsers(next, prev, 'USER_GET');
  next = putObject(next, { ...viommu, hwQueues: viommu.hwQueues.set(index, id) });
  next = adjustUsers(next, viommu.id, 'USER_GET');
  return ok(putContext(call.world, next), { out_hw_queue_id: BigInt(id) });
}

/**
 * `iommufd_hw_queue_destroy()`: the mock forgets the queue and its dependency, the internal
 * access unpins (unlocking the areas) and goes, and the vIOMMU loses the queue's reference.
 */
export function destroyHwQueue(world: World, ctx: Ctx, queue: HwQueue): Ctx {
  const viommu = mustGet(ctx, queue.viommu, 'viommu');
  let next = putObject(dropObject(ctx, queue.id), { ...viommu, hwQueues: viommu.hwQueues.delete(queue.index) });
  if (queue.prev !== null) next = adjustUsers(next, queue.prev, 'USER_PUT');
  next = destroyAccess(world, next, queue.access);
  return adjustUsers(next, queue.viommu, 'USER_PUT');
}
