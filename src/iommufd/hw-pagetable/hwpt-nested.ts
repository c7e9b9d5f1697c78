/**
 * Nested HWPTs (hw_pagetable.c, spec §3.11, §3.15): a stage-1 domain made on a nesting parent
 * (`iommufd_hwpt_nested_alloc()`) or through a vIOMMU (`iommufd_viommu_alloc_hwpt_nested()`),
 * its destruction, and the mock nested domain (selftest.c): four IOTLB entries set from the
 * user data, zeroed by `HWPT_INVALIDATE`, checked by `TEST_MD_CHECK_IOTLB`.
 */
import type { Fields } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, big, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import {
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
} from '../selftest/mock.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, dropObject, lookup, putObject } from '../main/object-refs.ts';
import {
  HWPT_INVALIDATE_SELFTEST,
  HWPT_SELFTEST,
  copyDriverStruct,
  distinctEntries,
  fieldOf,
  userBuffer,
} from '../main/user-data.ts';
import type { Invalidated } from '../viommu/viommu.ts';
import type { Ctx, Device, HwptNested, HwptPaging, Viommu } from '../../model/world.ts';
import { acceptedFlags } from '../../kernel/profile.ts';

export const IOMMU_HWPT_FAULT_ID_VALID = 4n;
export const IOMMU_HWPT_ALLOC_PASID = 8n;
const MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;

/** Whether the device's driver allocates nested domains (`domain_alloc_nested`). */
const nests = (dev: Device): boolean => dev.model.kind === 'mock' || dev.model.nesting;

/**
 * The driver's nested domain from the user data. The mock's (`__mock_domain_alloc_nested()`)
 * takes only IOMMU_HWPT_DATA_SELFTEST (EOPNOTSUPP) and sets its four IOTLB entries to
 * `iotlb`; another driver's stage-1 format is not modelled, so its data is taken as given.
 */
function nestedDomain(call: Call, cmd: Fields, dev: Device): Fail | readonly bigint[] {
  if (dev.model.kind !== 'mock') return [];
  const type = big(cmd, 'data_type');
  if (type !== IOMMU_HWPT_DATA_SELFTEST) return fail('EOPNOTSUPP', '__mock_domain_alloc_nested', 'data_type is not selftest');
  const buf = userBuffer(call, cmd, 'data_uptr', HWPT_SELFTEST);
  const cfg = copyDriverStruct(buf, 0n, type, IOMMU_HWPT_DATA_SELFTEST, big(cmd, 'data_len'), HWPT_SELFTEST, 4);
  if (cfg instanceof Fail) return cfg;
  return new Array<bigint>(MOCK_NESTED_DOMAIN_IOTLB_NUM).fill(fieldOf(cfg, HWPT_SELFTEST, 'iotlb'));
}

function newNested(id: number, parent: number, viommu: number | null, flags: bigint, iommu: string, iotlb: readonly bigint[]): HwptNested {
  return {
    type: 'hwpt_nested',
    id,
    lifecycle: initialRecord(objectMachine),
    parent,
    viommu,
    pasidCompat: (flags & IOMMU_HWPT_ALLOC_PASID) !== 0n,
    fault: null,
    iommu,
    iotlb,
  };
}

const NESTED_FLAGS = IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;
/** The nested flags the release takes (none before 6.11). */
const nestedFlags = (call: Call): bigint => acceptedFlags(call.world.config.kernel, 'HWPT_ALLOC', NESTED_FLAGS);

/**
 * `iommufd_hwpt_nested_alloc()`: flags other than FAULT_ID_VALID and PASID, no data, or a
 * driver that does not nest: EOPNOTSUPP; an automatic parent, one not allocated NEST_PARENT,
 * or another driver's: EINVAL. The new HWPT holds its parent.
 */
export function allocNestedOnParent(
  call: Call,
  ctx: Ctx,
  dev: Device,
  parent: HwptPaging,
  flags: bigint,
  cmd: Fields,
): Fail | { ctx: Ctx; id: number } {
  if ((flags & ~nestedFlags(call)) !== 0n || big(cmd, 'data_len') === 0n || !nests(dev)) {
    return fail('EOPNOTSUPP', 'iommufd_hwpt_nested_alloc', 'bad flags, no data or the driver cannot nest');
  }
  if (parent.auto || !parent.nestParent || parent.domain.iommu !== dev.model.iommu) {
    return fail('EINVAL', 'iommufd_hwpt_nested_alloc', 'parent automatic, not NEST_PARENT or foreign');
  }
  const id = allocId(ctx.objects, call.choices, 'out_hwpt_id');
  if (id instanceof Fail) return id;
  const iotlb = nestedDomain(call, cmd, dev);
  if (iotlb instanceof Fail) return iotlb;
  const hwpt = newNested(id, parent.id, null, flags, dev.model.iommu, iotlb);
  return { ctx: adjustUsers(putObject(ctx, hwpt), parent.id, 'USER_GET'), id };
}

/**
 * The vIOMMU branch of `iommufd_hwpt_alloc()` and `iommufd_viommu_alloc_hwpt_nested()`: the
 * device must sit behind the vIOMMU's IOMMU (EINVAL); bad flags or no data EOPNOTSUPP. The
 * new HWPT holds the vIOMMU, and its stage 2 is the vIOMMU's nesting parent.
 */
export function allocNestedOnViommu(
  call: Call,
  ctx: Ctx,
  dev: Device,
  viommu: Viommu,
  flags: bigint,
  cmd: Fields,
): Fail | { ctx: Ctx; id: number } {
  if (viommu.iommu !== dev.model.iommu) return fail('EINVAL', 'iommufd_hwpt_alloc', 'device behind another IOMMU than the vIOMMU');
  if ((flags & ~nestedFlags(call)) !== 0n || big(cmd, 'data_len') === 0n) {
    return fail('EOPNOTSUPP', 'iommufd_viommu_alloc_hwpt_nested', 'bad flags or no data');
  }
  const id = allocId(ctx.objects, call.choices, 'out_hwpt_id');
  if (id instanceof Fail) return id;
  const iotlb = nestedDomain(call, cmd, dev);
  if (iotlb instanceof Fail) return iotlb;
  const hwpt = newNested(id, viommu.hwpt, viommu.id, flags, viommu.iommu, iotlb);
  return { ctx: adjustUsers(putObject(ctx, hwpt), viommu.id, 'USER_GET'), id };
}

/** `iommufd_hwpt_nested_destroy()`: its FAULT and its vIOMMU (or parent) lose its references. */
export function destroyHwptNested(ctx: Ctx, hwpt: HwptNested): Ctx {
  let next = dropObject(ctx, hwpt.id);
  if (hwpt.fault !== null) next = adjustUsers(next, hwpt.fault, 'USER_PUT');
  return adjustUsers(next, hwpt.viommu ?? hwpt.parent, 'USER_PUT');
}

/**
 * `mock_domain_cache_invalidate_user()`: the array type must be the mock's (EINVAL, nothing
 * handled); entries are copied one by one (exactly 8 bytes each, EINVAL; EFAULT) and handled
 * in order: flags other than ALL EOPNOTSUPP, iotlb_id over 3 EINVAL (even with ALL).
 */
export function nestedInvalidate(call: Call, ctx: Ctx, hwpt: HwptNested, cmd: Fields): Invalidated {
  const type = big(cmd, 'data_type');
  const count = big(cmd, 'entry_num');
  if (hwpt.iommu !== 'mock') return { ctx, handled: count, error: null };
  if (type !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) {
    return { ctx, handled: 0n, error: fail('EINVAL', 'mock_domain_cache_invalidate_user', 'data_type is not selftest') };
  }
  const entryLen = big(cmd, 'entry_len');
  const buf = userBuffer(call, cmd, 'data_uptr', HWPT_INVALIDATE_SELFTEST, entryLen);
  const { distinct, rest } = distinctEntries(buf, count, entryLen);
  let iotlb = hwpt.iotlb;
  let handled = 0n;
  let error: Fail | null = null;
  for (let i = 0n; i < distinct; i++) {
    const e = copyDriverStruct(buf, i * entryLen, type, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, entryLen, HWPT_INVALIDATE_SELFTEST, 8);
    if (e instanceof Fail) {
      error = e;
      break;
    }
    const flags = fieldOf(e, HWPT_INVALIDATE_SELFTEST, 'flags');
    const id = fieldOf(e, HWPT_INVALIDATE_SELFTEST, 'iotlb_id');
    if ((flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) !== 0n) {
      error = fail('EOPNOTSUPP', 'mock_domain_cache_invalidate_user', 'flags has unknown bits');
      break;
    }
    if (id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) {
      error = fail('EINVAL', 'mock_domain_cache_invalidate_user', 'iotlb_id over max');
      break;
    }
    const all = (flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) !== 0n;
    iotlb = iotlb.map((v, j) => (all || BigInt(j) === id ? 0n : v));
    handled++;
  }
  const next = iotlb === hwpt.iotlb ? ctx : putObject(ctx, { ...hwpt, iotlb });
  return { ctx: next, handled: error === null && rest ? count : handled, error };
}

/** `iommufd_test_md_check_iotlb()`. */
export function mdCheckIotlb(call: Call, ctx: Ctx, cmd: Fields): Result {
  const hwpt = lookup(ctx, Number(big(cmd, 'id')), 'hwpt_nested');
  if (hwpt instanceof Fail) return refuse(call, hwpt);
  if (hwpt.iommu !== 'mock') return refuse(call, fail('EINVAL', 'get_md_pagetable_nested', 'not a mock nested domain'));
  const check = (cmd['check_iotlb'] ?? {}) as Fields;
  const index = big(check, 'id');
  if (index > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX || hwpt.iotlb[Number(index)] !== big(check, 'iotlb')) {
    return refuse(call, fail('EINVAL', 'iommufd_test_md_check_iotlb', 'iotlb id over max or entry differs'));
  }
  return ok(call.world);
}
