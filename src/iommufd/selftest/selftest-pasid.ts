/**
 * The selftest's PASID ops on mock devices (`iommufd_test_pasid_*()`, selftest.c, spec §7.3):
 * attach, replace and detach a PASID of a selftest object's device, and check what is there.
 */
import type { Fields } from '../../../events/types.ts';
import { groupHwpt, groupOf } from '../device/group.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { changePt, detach, isRefusal, refusal } from '../device/device.ts';
import { Fail, fail } from '../../model/fail.ts';
import { commit, liveObject, mustGet } from '../main/object-refs.ts';
import { ptRequest, selftestDev } from './selftest-device.ts';
import type { Ctx } from '../../model/world.ts';

function changePasid(call: Call, ctx: Ctx, cmd: Fields, mode: 'attach' | 'replace'): Result {
  const stdev = selftestDev(ctx, num(cmd, 'id'));
  if (stdev instanceof Fail) return refuse(call, stdev);
  const changed = changePt(ptRequest(call, 'pt_id'), ctx, stdev.device, num(cmd, 'pasid'), num(cmd, 'pt_id'), mode);
  if (isRefusal(changed)) return refusal(call, changed);
  return ok(commit(call.world, ctx, changed.ctx), { pt_id: BigInt(changed.hwpt) });
}

/** `iommufd_test_pasid_attach()` → `iommufd_device_attach()`. */
export const pasidAttach = (call: Call, ctx: Ctx, cmd: Fields): Result => changePasid(call, ctx, cmd, 'attach');

/** `iommufd_test_pasid_replace()` → `iommufd_device_replace()`. */
export const pasidReplace = (call: Call, ctx: Ctx, cmd: Fields): Result => changePasid(call, ctx, cmd, 'replace');

/** `iommufd_test_pasid_detach()`: detaching what is not attached is a no-op; always 0. */
export function pasidDetach(call: Call, ctx: Ctx, cmd: Fields): Result {
  const stdev = selftestDev(ctx, num(cmd, 'id'));
  if (stdev instanceof Fail) return refuse(call, stdev);
  return ok(commit(call.world, ctx, detach(call.world, ctx, stdev.device, num(cmd, 'pasid'))));
}

/**
 * `iommufd_test_pasid_check_hwpt()`: `hwpt_id` 0 asks that nothing be attached at `pasid`;
 * otherwise it must be a HWPT (ENOENT; another type EINVAL) and the one attached there.
 */
export function pasidCheckHwpt(call: Call, ctx: Ctx, cmd: Fields): Result {
  const stdev = selftestDev(ctx, num(cmd, 'id'));
  if (stdev instanceof Fail) return refuse(call, stdev);
  const attached = groupHwpt(groupOf(ctx, mustGet(ctx, stdev.device, 'device')), num(cmd, 'pasid'));
  const hwptId = big(cmd, 'hwpt_id');
  if (hwptId === 0n) {
    if (attached === undefined) return ok(call.world);
    return refuse(call, fail('EINVAL', 'iommufd_test_pasid_check_hwpt', 'pasid is not detached'));
  }
  const hwpt = liveObject(ctx, Number(hwptId));
  if (hwpt === undefined) return refuse(call, fail('ENOENT', 'iommufd_get_object', 'no object with this id'));
  if (hwpt.type !== 'hwpt_paging' && hwpt.type !== 'hwpt_nested') {
    return refuse(call, fail('EINVAL', 'iommufd_test_pasid_check_hwpt', 'not a HWPT'));
  }
  if (attached !== hwpt.id) return refuse(call, fail('EINVAL', 'iommufd_test_pasid_check_hwpt', 'another domain at pasid'));
  return ok(call.world);
}
