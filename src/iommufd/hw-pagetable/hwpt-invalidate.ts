/**
 * `IOMMU_HWPT_INVALIDATE` (`iommufd_hwpt_invalidate()`, spec §3.15): an array of driver
 * invalidation requests for a nested HWPT or a vIOMMU. `entry_num` is written back on every
 * path, the number of entries handled before any error; the entries handled stay handled.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, partial, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { nestedInvalidate } from './hwpt-nested.ts';
import { liveObject } from '../main/object-refs.ts';
import { type Invalidated, viommuInvalidate } from '../viommu/viommu.ts';
import type { Ctx } from '../../model/world.ts';

/** Whether the command points at data: inline `data`, or a non-NULL `data_uptr`. */
const hasData = (cmd: Fields): boolean => (cmd['data'] !== undefined && cmd['data'] !== null) || typeof cmd['data_uptr'] === 'bigint';

export function hwptInvalidate(call: Call, ctx: Ctx, cmd: Fields): Result {
  const none = { entry_num: 0n };
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_hwpt_invalidate', '__reserved is not zero'), none);
  if (big(cmd, 'entry_num') !== 0n && (!hasData(cmd) || big(cmd, 'entry_len') === 0n)) {
    return refuse(call, fail('EINVAL', 'iommufd_hwpt_invalidate', 'entries without data_uptr or entry_len'), none);
  }
  const target = liveObject(ctx, num(cmd, 'hwpt_id'));
  if (target === undefined) return refuse(call, fail('ENOENT', 'iommufd_get_object', 'no object with this id'), none);
  let done: Invalidated;
  if (target.type === 'hwpt_nested') done = nestedInvalidate(call, ctx, target, cmd);
  else if (target.type === 'viommu') done = viommuInvalidate(call, ctx, target, cmd);
  else return refuse(call, fail('EINVAL', 'iommufd_hwpt_invalidate', 'not a nested HWPT or vIOMMU'), none);
  const out = { entry_num: done.handled };
  const world = done.ctx === ctx ? call.world : putContext(call.world, done.ctx);
  return done.error === null ? ok(world, out) : partial(world, done.error, out);
}
