/**
 * vIOMMUs and VDEVICEs (viommu.c, driver.c, spec §3.17-3.18) with the mock driver's vIOMMU
 * (selftest.c): `IOMMU_VIOMMU_ALLOC`, `IOMMU_VDEVICE_ALLOC`, their destruction, and the
 * mock vIOMMU's cache invalidation, which zeroes entries of the devices' caches.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { initialRecord, nextRecord } from '../../../machines/adapter.ts';
import { deviceMachine } from '../../../machines/device.machine.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import {
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  MOCK_DEV_CACHE_ID_MAX,
} from '../selftest/mock.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, dropObject, lookup, mustGet, putObject } from '../main/object-refs.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { revise } from '../../model/revise.ts';
import {
  VIOMMU_INVALIDATE_SELFTEST,
  VIOMMU_SELFTEST,
  copyDriverStruct,
  copyStruct,
  distinctEntries,
  fieldOf,
  userBuffer,
} from '../main/user-data.ts';
import { userMemoryWritable } from '../../mm/user-memory.ts';
import type { Ctx, Range, Vdevice, Viommu } from '../../model/world.ts';

export const IOMMU_VIOMMU_TYPE_DEFAULT = 0n;
/** `MAX_PAGE_ORDER`: kmalloc() serves at most PAGE_SIZE << 10 bytes. */
const KMALLOC_MAX_ORDER = 10n;

/** `mtree_alloc_range()` over the context's mmap regions: the lowest free range from PAGE_SIZE. */
function mmapOffset(ctx: Ctx, length: bigint, pageSize: bigint): bigint {
  const taken: Range[] = [];
  for (const obj of ctx.objects.values()) if (obj.type === 'viommu' && obj.mmap !== null) taken.push(obj.mmap);
  taken.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let start = pageSize;
  for (const r of taken) {
    if (r.last < start) continue;
    if (r.start >= start + length) break;
    start = r.last + 1n;
  }
  return start;
}

/**
 * `mock_viommu_init()` with user data (`struct iommu_viommu_selftest`): two pages of fake MMIO
 * registered for mmap, `out_data` = `in_data` written back with the region's offset and length.
 */
function mockViommuData(call: Call, ctx: Ctx, cmd: Fields): Fail | { mmap: Range; out: Fields } {
  const length = big(cmd, 'data_len');
  const buf = userBuffer(call, cmd, 'data_uptr', VIOMMU_SELFTEST);
  const bytes = copyDriverStruct(buf, 0n, big(cmd, 'type'), IOMMU_VIOMMU_TYPE_SELFTEST, length, VIOMMU_SELFTEST, 8);
  if (bytes instanceof Fail) return bytes;
  const { pageSize } = call.world.config;
  const start = mmapOffset(ctx, 2n * pageSize, pageSize);
  const addr = cmd['data_uptr'];
  if (cmd['data'] === undefined && (typeof addr !== 'bigint' || !userMemoryWritable(call.world, call.process, addr, length))) {
    return fail('EFAULT', 'iommu_copy_struct_to_user', 'data_uptr not writable');
  }
  const inData = fieldOf(bytes, VIOMMU_SELFTEST, 'in_data');
  const written: [string, bigint, number][] = [
    ['in_data', inData, 4],
    ['out_data', inData, 8],
    ['out_mmap_offset', start, 16],
    ['out_mmap_length', 2n * pageSize, 24],
  ];
  const out: Record<string, bigint> = {};
  for (const [name, value, end] of written) if (BigInt(end) <= length) out[name] = value;
  return { mmap: { start, last: start + 2n * pageSize - 1n }, out };
}

/** `iommufd_viommu_alloc_ioctl()`. */
export function viommuAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  const type = big(cmd, 'type');
  if (big(cmd, 'flags') !== 0n || type === IOMMU_VIOMMU_TYPE_DEFAULT) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_viommu_alloc_ioctl', 'flags set or default type'));
  }
  const dev = lookup(ctx, num(cmd, 'dev_id'), 'device');
  if (dev instanceof Fail) return refuse(call, dev);
  // Only the mock driver's vIOMMU is modelled (`get_viommu_size()` is 0 for any other type).
  if (dev.model.kind !== 'mock' || type !== IOMMU_VIOMMU_TYPE_SELFTEST) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_viommu_alloc_ioctl', 'no vIOMMU of this type for the device'));
  }
  const hwpt = lookup(ctx, num(cmd, 'hwpt_id'), 'hwpt_paging');
  if (hwpt instanceof Fail) return refuse(call, hwpt);
  if (!hwpt.nestParent) return refuse(call, fail('EINVAL', 'iommufd_viommu_alloc_ioctl', 'hwpt is not a nesting parent'));
  const id = allocId(ctx.objects, call.choices, 'out_viommu_id');
  if (id instanceof Fail) return refuse(call, id);
  let mmap: Range | null = null;
  let data: Fields | null = null;
  if (big(cmd, 'data_len') !== 0n) {
    const init = mockViommuData(call, ctx, cmd);
    if (init instanceof Fail) return refuse(call, init);
    mmap = init.mmap;
    data = init.out;
  }
  const viommu: Viommu = {
    type: 'viommu',
    id,
    lifecycle: initialRecord(objectMachine),
    viommuType: type,
    hwpt: hwpt.id,
    iommu: dev.model.iommu,
    vdevs: OrderedMap.empty(),
    mmap,
    hwQueues: OrderedMap.empty(),
  };
  const next = adjustUsers(putObject(ctx, viommu), hwpt.id, 'USER_GET');
  return ok(putContext(call.world, next), { out_viommu_id: BigInt(id), ...(data === null ? {} : { data }) });
}

/** `iommufd_viommu_destroy()`: the nesting parent loses the vIOMMU's reference. */
export function destroyViommu(ctx: Ctx, viommu: Viommu): Ctx {
  return adjustUsers(dropObject(ctx, viommu.id), viommu.hwpt, 'USER_PUT');
}

/** `iommufd_vdevice_alloc_ioctl()`. */
export function vdeviceAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  const virtId = big(cmd, 'virt_id');
  const viommu = lookup(ctx, num(cmd, 'viommu_id'), 'viommu');
  if (viommu instanceof Fail) return refuse(call, viommu);
  const dev = lookup(ctx, num(cmd, 'dev_id'), 'device');
  if (dev instanceof Fail) return refuse(call, dev);
  if (viommu.iommu !== dev.model.iommu) return refuse(call, fail('EINVAL', 'iommufd_vdevice_alloc_ioctl', 'device behind another IOMMU'));
  if (dev.vdevice !== null) return refuse(call, fail('EEXIST', 'iommufd_vdevice_alloc_ioctl', 'device already has a vdevice'));
  const id = allocId(ctx.objects, call.choices, 'out_vdevice_id');
  if (id instanceof Fail) return refuse(call, id);
  if (viommu.vdevs.has(virtId)) return refuse(call, fail('EEXIST', 'iommufd_vdevice_alloc_ioctl', 'virt_id taken'));
  const vdev: Vdevice = { type: 'vdevice', id, lifecycle: initialRecord(objectMachine), viommu: viommu.id, device: dev.id, virtId };
  let next = putObject(ctx, vdev);
  next = putObject(
    next,
    revise(viommu, (d) => {
      d.vdevs = viommu.vdevs.set(virtId, id);
      d.lifecycle = nextRecord(objectMachine, viommu.lifecycle, { type: 'USER_GET' });
    }),
  );
  next = putObject(
    next,
    revise(dev, (d) => {
      d.vdevice = id;
      d.lifecycle = nextRecord(deviceMachine, dev.lifecycle, { type: 'USER_GET' });
    }),
  );
  return ok(putContext(call.world, next), { out_vdevice_id: BigInt(id) });
}

/**
 * `iommufd_vdevice_destroy()`: off its vIOMMU's table, references on the vIOMMU and the
 * device dropped. Unbinding the device does this leaving the id a tombstone.
 */
export function removeVdevice(ctx: Ctx, vdev: Vdevice, tombstone: boolean): Ctx {
  const viommu = mustGet(ctx, vdev.viommu, 'viommu');
  let next = putObject(
    ctx,
    revise(viommu, (d) => {
      if (viommu.vdevs.get(vdev.virtId) === vdev.id) d.vdevs = viommu.vdevs.delete(vdev.virtId);
      d.lifecycle = nextRecord(objectMachine, viommu.lifecycle, { type: 'USER_PUT' });
    }),
  );
  const dev = mustGet(next, vdev.device, 'device');
  next = putObject(
    next,
    revise(dev, (d) => {
      d.vdevice = null;
      d.lifecycle = nextRecord(deviceMachine, dev.lifecycle, { type: 'USER_PUT' });
    }),
  );
  return tombstone ? putObject(next, { type: 'tombstone', id: vdev.id }) : dropObject(next, vdev.id);
}

const INVALIDATE_FLAGS = fail('EOPNOTSUPP', 'mock_viommu_cache_invalidate', 'flags has unknown bits');
const INVALIDATE_CACHE_ID = fail('EINVAL', 'mock_viommu_cache_invalidate', 'cache_id over max');
const INVALIDATE_VDEV_ID = fail('EINVAL', 'mock_viommu_cache_invalidate', 'no vdevice with this vdev_id');

/** What an invalidation did: the context after the entries handled, their number, and the error that stopped it. */
export interface Invalidated {
  readonly ctx: Ctx;
  readonly handled: bigint;
  readonly error: Fail | null;
}

/**
 * `mock_viommu_cache_invalidate()`: an empty array of the right type probes it; otherwise the
 * whole array is copied first (type EINVAL, E2BIG/EFAULT), then entries are handled in order:
 * flags other than ALL EOPNOTSUPP, cache_id over 3 EINVAL, a virt_id with no VDEVICE EINVAL;
 * each zeroes one entry (or all four) of the device's cache.
 */
export function viommuInvalidate(call: Call, ctx: Ctx, viommu: Viommu, cmd: Fields): Invalidated {
  const type = big(cmd, 'data_type');
  const count = big(cmd, 'entry_num');
  const entryLen = big(cmd, 'entry_len');
  if (count === 0n && type === IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) return { ctx, handled: 0n, error: null };
  if (type !== IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST || count === 0n) {
    return { ctx, handled: 0n, error: fail('EINVAL', 'iommu_copy_struct_from_full_user_array', 'data_type is not selftest') };
  }
  // kzalloc_objs() of the whole array: above the largest allocation, ENOMEM.
  if (count * BigInt(VIOMMU_INVALIDATE_SELFTEST.size) > call.world.config.pageSize << KMALLOC_MAX_ORDER) {
    return { ctx, handled: 0n, error: fail('ENOMEM', 'mock_viommu_cache_invalidate', 'array over the largest kmalloc') };
  }
  const buf = userBuffer(call, cmd, 'data_uptr', VIOMMU_INVALIDATE_SELFTEST, entryLen);
  const { distinct, rest } = distinctEntries(buf, count, entryLen);
  const entries: Uint8Array[] = [];
  for (let i = 0n; i < distinct; i++) {
    const e = copyStruct(buf, i * entryLen, VIOMMU_INVALIDATE_SELFTEST.size, entryLen);
    if (e instanceof Fail) return { ctx, handled: 0n, error: e };
    entries.push(e);
  }
  let next = ctx;
  let handled = 0n;
  for (const e of entries) {
    const flags = fieldOf(e, VIOMMU_INVALIDATE_SELFTEST, 'flags');
    const cacheId = fieldOf(e, VIOMMU_INVALIDATE_SELFTEST, 'cache_id');
    if ((flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) !== 0n) return { ctx: next, handled, error: INVALIDATE_FLAGS };
    if (cacheId > MOCK_DEV_CACHE_ID_MAX) return { ctx: next, handled, error: INVALIDATE_CACHE_ID };
    const vdevId = viommu.vdevs.get(fieldOf(e, VIOMMU_INVALIDATE_SELFTEST, 'vdev_id'));
    if (vdevId === undefined) return { ctx: next, handled, error: INVALIDATE_VDEV_ID };
    const dev = mustGet(next, mustGet(next, vdevId, 'vdevice').device, 'device');
    const all = (flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) !== 0n;
    next = putObject(next, { ...dev, cache: dev.cache.map((v, i) => (all || BigInt(i) === cacheId ? 0n : v)) });
    handled++;
  }
  return { ctx: next, handled: rest ? count : handled, error: null };
}
