/**
 * `IOMMU_HWPT_ALLOC` (`iommufd_hwpt_alloc()`, hw_pagetable.c, spec §3.11): a paging HWPT on
 * an IOAS, or a nested one on a nesting parent or a vIOMMU, optionally reporting its page
 * faults to a FAULT object. The device only chooses the driver; it is not attached.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { addDomain, newHwptPaging } from './hw-pagetable.ts';
import { IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_FAULT_ID_VALID, allocNestedOnParent, allocNestedOnViommu } from './hwpt-nested.ts';
import { IOMMU_HWPT_DATA_SELFTEST, MOCK_IOMMUPT_DEFAULT, MOCK_IOMMUPT_HUGE, domainFor } from '../selftest/mock.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, liveObject, lookup, putObject } from '../main/object-refs.ts';
import { HWPT_SELFTEST, copyDriverStruct, fieldOf, userBuffer } from '../main/user-data.ts';
import type { Ctx, Device, Domain, Ioas } from '../../model/world.ts';
import { acceptedFlags, hasOlder } from '../../kernel/profile.ts';

export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1n;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 2n;
export const IOMMU_HWPT_DATA_NONE = 0n;
const PAGING_FLAGS =
  IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;

/**
 * The driver's `domain_alloc_paging_flags()` (FAULT_ID_VALID is not passed to it). The mock
 * (`mock_domain_alloc_paging_flags()`) takes user data of type SELFTEST only (EOPNOTSUPP),
 * copied as `struct iommu_hwpt_selftest` (EINVAL, EFAULT), whose `pagetable_type` must be
 * DEFAULT or HUGE (EOPNOTSUPP). Another driver takes no user data (EOPNOTSUPP) and makes a
 * nesting parent only if it can nest (EOPNOTSUPP), as the VT-d and SMMUv3 drivers do.
 */
function pagingDomain(call: Call, cmd: Fields, dev: Device, flags: bigint): Fail | Domain {
  const dirty = (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0n;
  const { pageSize } = call.world.config;
  const length = big(cmd, 'data_len');
  if (dev.model.kind !== 'mock') {
    if (length !== 0n) return fail('EOPNOTSUPP', 'domain_alloc_paging_flags', 'the driver takes no user data');
    if ((flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0n && !dev.model.nesting) {
      return fail('EOPNOTSUPP', 'domain_alloc_paging_flags', 'the driver cannot nest');
    }
    return domainFor(dev.model, dirty, MOCK_IOMMUPT_DEFAULT, pageSize);
  }
  let pagetableType = MOCK_IOMMUPT_DEFAULT;
  if (length !== 0n) {
    // The xarray mock of 6.7 to 6.18 refused any user data for a paging domain.
    if (hasOlder(call.world.config.kernel, 'mock-xarray-page-table')) return fail('EOPNOTSUPP', 'mock_domain_alloc_paging_flags', 'user data for a paging domain');
    const type = big(cmd, 'data_type');
    if (type !== IOMMU_HWPT_DATA_SELFTEST) return fail('EOPNOTSUPP', 'mock_domain_alloc_paging_flags', 'data_type is not selftest');
    const cfg = copyDriverStruct(userBuffer(call, cmd, 'data_uptr', HWPT_SELFTEST), 0n, type, IOMMU_HWPT_DATA_SELFTEST, length, HWPT_SELFTEST, 4);
    if (cfg instanceof Fail) return cfg;
    pagetableType = fieldOf(cfg, HWPT_SELFTEST, 'pagetable_type');
  }
  if (pagetableType !== MOCK_IOMMUPT_DEFAULT && pagetableType !== MOCK_IOMMUPT_HUGE) {
    return fail('EOPNOTSUPP', 'mock_domain_alloc_pgtable', 'unknown pagetable_type');
  }
  return domainFor(dev.model, dirty, pagetableType, pageSize);
}

/**
 * `iommufd_hwpt_paging_alloc()` without immediate attach: unknown flags, DIRTY_TRACKING on a
 * device without it, FAULT_ID_VALID with NEST_PARENT: EOPNOTSUPP; then the id, the driver's
 * domain, and the domain joins the IOAS (EINVAL, EADDRINUSE, pinning errors).
 */
function allocPaging(call: Call, ctx: Ctx, dev: Device, ioas: Ioas, flags: bigint, cmd: Fields): Fail | { ctx: Ctx; id: number } {
  if ((flags & ~acceptedFlags(call.world.config.kernel, 'HWPT_ALLOC', PAGING_FLAGS)) !== 0n) {
    return fail('EOPNOTSUPP', 'iommufd_hwpt_paging_alloc', 'flags has unknown bits');
  }
  if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0n && !dev.model.dirty) {
    return fail('EOPNOTSUPP', 'iommufd_hwpt_paging_alloc', 'the device cannot track dirty pages');
  }
  const nestParentFault = (flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0n && (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0n;
  if (nestParentFault && !hasOlder(call.world.config.kernel, 'nest-parent-takes-fault-id')) {
    return fail('EOPNOTSUPP', 'iommufd_hwpt_paging_alloc', 'FAULT_ID_VALID with NEST_PARENT');
  }
  const id = allocId(ctx.objects, call.choices, 'out_hwpt_id');
  if (id instanceof Fail) return id;
  const domain = pagingDomain(call, cmd, dev, flags & ~IOMMU_HWPT_FAULT_ID_VALID);
  if (domain instanceof Fail) return domain;
  const hwpt = newHwptPaging(id, ioas.id, domain, {
    auto: false,
    nestParent: (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0n,
    pasidCompat: (flags & IOMMU_HWPT_ALLOC_PASID) !== 0n,
    fault: null,
  });
  const added = addDomain(call.world, putObject(ctx, hwpt), id);
  return added instanceof Fail ? added : { ctx: added, id };
}

/** `iommufd_hwpt_alloc()`. */
export function hwptAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  const { kernel } = call.world.config;
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_hwpt_alloc', '__reserved is not zero'));
  if (hasOlder(kernel, 'hwpt-alloc-takes-no-flags') && big(cmd, 'flags') !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_hwpt_alloc', 'flags is not zero: this release takes none'));
  }
  const noData = big(cmd, 'data_type') === IOMMU_HWPT_DATA_NONE;
  const length = big(cmd, 'data_len');
  // 6.7 let a data_type without data_len through to the allocation (7adc0c1cfa77 added the converse check).
  if ((noData && length !== 0n) || (!noData && length === 0n && !hasOlder(kernel, 'hwpt-alloc-type-without-len'))) {
    return refuse(call, fail('EINVAL', 'iommufd_hwpt_alloc', 'data_len disagrees with data_type'));
  }
  const dev = lookup(ctx, num(cmd, 'dev_id'), 'device');
  if (dev instanceof Fail) return refuse(call, dev);
  // Any type is looked up; an absent pt_id is EINVAL here, not ENOENT.
  const pt = liveObject(ctx, num(cmd, 'pt_id'));
  if (hasOlder(kernel, 'hwpt-alloc-pt-is-ioas') && pt?.type !== 'ioas') return refuse(call, fail('ENOENT', 'iommufd_get_ioas', 'pt_id names no IOAS'));
  if (pt === undefined) return refuse(call, fail('EINVAL', 'iommufd_hwpt_alloc', 'no object with pt_id'));
  const flags = big(cmd, 'flags');
  let made: Fail | { ctx: Ctx; id: number };
  if (pt.type === 'ioas') made = allocPaging(call, ctx, dev, pt, flags, cmd);
  else if (pt.type === 'hwpt_paging') made = allocNestedOnParent(call, ctx, dev, pt, flags, cmd);
  else if (pt.type === 'viommu') made = allocNestedOnViommu(call, ctx, dev, pt, flags, cmd);
  else return refuse(call, fail('EINVAL', 'iommufd_hwpt_alloc', 'pt_id is not an IOAS, HWPT_PAGING or vIOMMU'));
  if (made instanceof Fail) return refuse(call, made);
  let next = made.ctx;
  if ((flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0n) {
    const fault = lookup(next, num(cmd, 'fault_id'), 'fault');
    if (fault instanceof Fail) return refuse(call, fault);
    const hwpt = next.objects.get(made.id);
    if (hwpt?.type !== 'hwpt_paging' && hwpt?.type !== 'hwpt_nested') throw new Error('[iommufd-model] the new HWPT is gone');
    next = adjustUsers(putObject(next, { ...hwpt, fault: fault.id }), fault.id, 'USER_GET');
  }
  return ok(putContext(call.world, next), { out_hwpt_id: BigInt(made.id) });
}
