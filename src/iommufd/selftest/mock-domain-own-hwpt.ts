/**
 * TEST_MOCK_DOMAIN as 6.2 and 6.3 had it, before 65c619ae0680 bound a real device: no iommufd
 * device, the selftest object takes the first id and a HWPT of its own on the IOAS the second
 * (`iommufd_test_mock_domain()`, `iommufd_device_selftest_attach()` of those releases). The
 * object holds a user of the HWPT, so DESTROY of the HWPT is EBUSY while it lives; destroying
 * the object takes the domain out of the IOAS (`iommufd_device_selftest_detach()`) and leaves
 * the HWPT, holding its IOAS, for user space to destroy.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { addDomain, newHwptPaging, removeDomain } from '../hw-pagetable/hw-pagetable.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, dropObject, lookup, mustGet, putObject, withUsers } from '../main/object-refs.ts';
import { hasOlder } from '../../kernel/profile.ts';
import { MOCK_IOMMUPT_DEFAULT, domainFor, mockDeviceModel } from './mock.ts';
import type { Ctx, SelftestDev, World } from '../../model/world.ts';

export function mockDomainOwnHwpt(call: Call, ctx: Ctx, cmd: Fields): Result {
  const ioas = lookup(ctx, num(cmd, 'id'), 'ioas');
  if (ioas instanceof Fail) return refuse(call, fail('ENOENT', 'iommufd_get_ioas', 'id names no IOAS'));
  const stdevId = allocId(ctx.objects, call.choices, 'out_stdev_id');
  if (stdevId instanceof Fail) return refuse(call, stdevId);
  const stdev: SelftestDev = { type: 'selftest', id: stdevId, lifecycle: initialRecord(objectMachine), device: 0, ownHwpt: null };
  const reserved = putObject(ctx, stdev);
  const hwptId = allocId(reserved.objects, call.choices, 'out_hwpt_id');
  if (hwptId instanceof Fail) return refuse(call, hwptId);
  const model = mockDeviceModel(0n, hasOlder(call.world.config.kernel, 'mock-xarray-page-table'));
  const domain = domainFor(model, false, MOCK_IOMMUPT_DEFAULT, call.world.config.pageSize);
  const hwpt = withUsers(newHwptPaging(hwptId, ioas.id, domain, { auto: false, nestParent: false, pasidCompat: false, fault: null }), 'USER_GET');
  const added = addDomain(call.world, putObject(reserved, hwpt), hwptId);
  if (added instanceof Fail) return refuse(call, added);
  const next = putObject(added, { ...stdev, ownHwpt: hwptId });
  return ok(putContext(call.world, next), { out_stdev_id: BigInt(stdevId), out_hwpt_id: BigInt(hwptId) });
}

/** Destroying the selftest object of such a HWPT: the domain leaves the IOAS, the HWPT stays. */
export function destroyOwnHwptDev(world: World, ctx: Ctx, stdev: SelftestDev, hwptId: number): Ctx {
  const detached = removeDomain(world, ctx, mustGet(ctx, hwptId, 'hwpt_paging'));
  return dropObject(adjustUsers(detached, hwptId, 'USER_PUT'), stdev.id);
}
