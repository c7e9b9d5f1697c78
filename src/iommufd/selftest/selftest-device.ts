/**
 * Selftest ops on mock devices (`selftest.c`, spec §7.3): create, bind and attach a mock
 * device, replace its page table, and check what its domain maps and its cache holds.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { type PtRequest, bindDevice, changePt, isRefusal, refusal, unbind } from '../device/device.ts';
import { Fail, fail } from '../../model/fail.ts';
import { MOCK_DEVICE_FLAGS, MOCK_DEV_CACHE_ID_MAX, MOCK_FLAGS_DEVICE_HUGE_IOVA, MOCK_IOMMUPT_DEFAULT, domainFor, mockDeviceModel } from './mock.ts';
import { allocId } from '../main/object-table.ts';
import { acceptedFlags, hasOlder } from '../../kernel/profile.ts';
import { pinRunAt } from '../pages/pages.ts';
import { destroyOwnHwptDev, mockDomainOwnHwpt } from './mock-domain-own-hwpt.ts';
import { pageReader } from '../../mm/physical.ts';
import { U64_MAX, atOrAfter } from '../../model/ranges.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, SelftestDev, World } from '../../model/world.ts';

/** What attaching a device needs from the call: the world to pin from, and how new HWPTs are named and built. */
export function ptRequest(call: Call, idField: string): PtRequest {
  const { pageSize } = call.world.config;
  return {
    world: call.world,
    choices: call.choices,
    idField,
    allocDomain: (model, dirty) => domainFor(model, dirty, MOCK_IOMMUPT_DEFAULT, pageSize),
  };
}

/**
 * `iommufd_test_mock_domain()`: the selftest object's id first, then the bound device's, then
 * (attaching to an IOAS with no compatible automatic HWPT) the new HWPT's.
 */
export function mockDomain(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (hasOlder(call.world.config.kernel, 'mock-domain-own-hwpt')) return mockDomainOwnHwpt(call, ctx, cmd);
  const stdevId = allocId(ctx.objects, call.choices, 'out_stdev_id');
  if (stdevId instanceof Fail) return refuse(call, stdevId);
  const placeholder: SelftestDev = { type: 'selftest', id: stdevId, lifecycle: initialRecord(objectMachine), device: 0, ownHwpt: null };
  const reserved = revise(ctx, (d) => {
    d.objects = ctx.objects.set(stdevId, placeholder);
  });
  const flags = call.event.op === 'TEST_MOCK_DOMAIN_FLAGS' ? big(cmd, 'dev_flags') : 0n;
  const xarray = hasOlder(call.world.config.kernel, 'mock-xarray-page-table');
  const valid = MOCK_DEVICE_FLAGS | (xarray ? MOCK_FLAGS_DEVICE_HUGE_IOVA : 0n);
  if ((flags & ~acceptedFlags(call.world.config.kernel, 'TEST_MOCK_DOMAIN_FLAGS', valid)) !== 0n) {
    return refuse(call, fail('EINVAL', 'mock_dev_create', 'dev_flags has unknown bits'));
  }
  const bound = bindDevice(reserved, call.choices, 'out_idev_id', (id) => ({ ...mockDeviceModel(flags, xarray), group: `mock:${id}` }));
  if (bound instanceof Fail) return refuse(call, bound);
  const attached = changePt(ptRequest(call, 'out_hwpt_id'), bound.ctx, bound.device.id, 0, num(cmd, 'id'), 'attach');
  // A driver fault on the new device goes with it: nothing of this command stays.
  if (isRefusal(attached)) return refuse(call, attached instanceof Fail ? attached : attached.fail);
  const stdev = revise(placeholder, (d) => {
    d.device = bound.device.id;
  });
  const next = revise(attached.ctx, (d) => {
    d.objects = attached.ctx.objects.set(stdevId, stdev);
  });
  return ok(putContext(call.world, next), {
    out_stdev_id: BigInt(stdevId),
    out_hwpt_id: BigInt(attached.hwpt),
    out_idev_id: BigInt(bound.device.id),
  });
}

export function selftestDev(ctx: Ctx, id: number): SelftestDev | Fail {
  const obj = ctx.objects.get(id);
  return obj?.type === 'selftest' ? obj : fail('ENOENT', 'iommufd_get_object', 'no selftest with this id');
}

/** `iommufd_test_mock_domain_replace()`: replace the RID attachment of a mock device. */
export function mockDomainReplace(call: Call, ctx: Ctx, cmd: Fields): Result {
  const stdev = selftestDev(ctx, num(cmd, 'id'));
  if (stdev instanceof Fail) return refuse(call, stdev);
  const replaced = changePt(ptRequest(call, 'pt_id'), ctx, stdev.device, 0, num(cmd, 'pt_id'), 'replace');
  if (isRefusal(replaced)) return refusal(call, replaced);
  return ok(putContext(call.world, replaced.ctx), { pt_id: BigInt(replaced.hwpt) });
}

/** Destroying a selftest object (`selftest_object_destroy()`): detach and unbind its mock device. */
export function destroySelftestDev(world: World, ctx: Ctx, stdev: SelftestDev): Ctx {
  if (stdev.ownHwpt !== null) return destroyOwnHwptDev(world, ctx, stdev, stdev.ownHwpt);
  const unbound = unbind(world, ctx, stdev.device);
  return revise(unbound, (d) => {
    d.objects = unbound.objects.delete(stdev.id);
  });
}

/**
 * `iommufd_test_md_check_pa()`: for each of the domain's smallest pages, the domain must
 * translate `iova` to the physical address behind `uptr`. The steps are checked a stretch at
 * a time: within one run of user pages, one area and one pinned run, they all pass or fail as
 * the first one does.
 */
export function mdCheckMap(call: Call, ctx: Ctx, cmd: Fields): Result {
  const hwpt = ctx.objects.get(num(cmd, 'id'));
  if (hwpt?.type !== 'hwpt_paging') return refuse(call, fail('ENOENT', 'iommufd_get_object', 'no hwpt_paging with this id'));
  if (hwpt.domain.iommu !== 'mock') return refuse(call, fail('EINVAL', 'get_md_pagetable', 'not a mock domain'));
  const step = hwpt.domain.pgsizeBitmap & -hwpt.domain.pgsizeBitmap;
  const iova = big(cmd, 'iova');
  const length = big(cmd, 'length');
  const uptr = big(cmd, 'uptr');
  if (iova % step !== 0n || length % step !== 0n || uptr % step !== 0n || uptr + length > U64_MAX) {
    return refuse(call, fail('EINVAL', 'iommufd_test_md_check_pa', 'range unaligned or overflows'));
  }
  const ioas = ctx.objects.get(hwpt.ioas);
  if (ioas?.type !== 'ioas') return refuse(call, fail('EINVAL', 'iommufd_test_md_check_pa', 'the HWPT has no IOAS'));
  const { pageSize } = call.world.config;
  const userPage = pageReader(call.world, call.process);
  const lastPage = uptr + length - 1n - ((uptr + length - 1n) % pageSize);
  for (let done = 0n; done < length; ) {
    const va = uptr + done;
    const at = iova + done;
    const page = userPage(va - (va % pageSize), lastPage);
    if (page === null) return refuse(call, fail('EFAULT', 'get_user_pages_fast', 'no page at the address'));
    const area = atOrAfter(ioas.iopt.areas, at);
    if (area === undefined || area.start > at) return refuse(call, fail('EINVAL', 'iommufd_test_md_check_pa', 'iova not mapped'));
    const byte = area.startByte + (at - area.start);
    const pages = ctx.pages.get(area.pages);
    const pinned = pages === undefined ? null : pinRunAt(pages, byte / pageSize);
    if (
      pinned === null ||
      pinned.obj !== page.obj ||
      pinned.index + (byte / pageSize - pinned.first) !== page.index ||
      byte % pageSize !== va % pageSize
    ) {
      return refuse(call, fail('EINVAL', 'iommufd_test_md_check_pa', 'iova maps another page'));
    }
    let alike = page.count * pageSize - (va % pageSize);
    if (area.last - at + 1n < alike) alike = area.last - at + 1n;
    if ((pinned.last + 1n) * pageSize - byte < alike) alike = (pinned.last + 1n) * pageSize - byte;
    done += ((alike + step - 1n) / step) * step;
  }
  return ok(call.world);
}

/** `iommufd_test_dev_check_cache()`. */
export function devCheckCache(call: Call, ctx: Ctx, cmd: Fields): Result {
  const dev = ctx.objects.get(num(cmd, 'id'));
  if (dev?.type !== 'device') return refuse(call, fail('ENOENT', 'iommufd_get_object', 'no device with this id'));
  const check = cmd['check_dev_cache'] as Fields | undefined;
  const index = big(check ?? {}, 'id');
  const value = big(check ?? {}, 'cache');
  if (index > MOCK_DEV_CACHE_ID_MAX || dev.cache[Number(index)] !== value) {
    return refuse(call, fail('EINVAL', 'iommufd_test_dev_check_cache', 'cache id over max or entry differs'));
  }
  return ok(call.world);
}
