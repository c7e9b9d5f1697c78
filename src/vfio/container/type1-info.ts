/**
 * Type1's `VFIO_IOMMU_GET_INFO` (`vfio_iommu_type1_get_info()`): the page sizes and a
 * capability chain of, in this order, MIGRATION (the dirty bitmap's page size and largest size),
 * DMA_AVAIL (how many more mappings `dma_entry_limit` allows) and IOVA_RANGE (the usable IOVA
 * ranges, when there are any), each padded to 8 bytes (`vfio_info_cap_add()`).
 *
 * The chain is copied only when all of it fits in `argsz`; then `cap_offset` points at it
 * (just past the struct) and `argsz` stays as given. Otherwise `argsz` comes back as the size
 * needed and `cap_offset` as 0. `caps` shows the chain copied, a record per capability.
 * Older releases have less of it (src/kernel/changes.ts): no DMA_AVAIL before 5.10, no
 * MIGRATION before 5.8, no chain at all before 5.4.
 */
import type { Fields } from '../../../events/types.ts';
import { VFIO_IOMMU_TYPE1_INFO } from '../../../events/structs.ts';
import { type Call, type Result, big, ok, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import { hasOlder } from '../../kernel/profile.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import type { IovaRange, Type1 } from '../state.ts';
import { DIRTY_BITMAP_SIZE_MAX } from './dirty-bitmap.ts';
import { minPgsize } from './type1-dma.ts';

const VFIO_IOMMU_INFO_PGSIZES = 1n;
const VFIO_IOMMU_INFO_CAPS = 2n;
const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1n;
const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2n;
const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3n;

/** `offsetofend(iova_pgsizes)`, and of `cap_offset`. */
export const INFO_MINSZ = 16n;
const CAP_OFFSET_END = 20n;
/** `sizeof(struct vfio_iommu_type1_info)`: the chain starts here. */
export const INFO_SIZE = BigInt(VFIO_IOMMU_TYPE1_INFO.size);

const align8 = (n: bigint): bigint => (n + 7n) & ~7n;

/** A capability as `caps` shows it, and the bytes it takes in the chain. */
interface Cap {
  readonly record: Fields;
  readonly size: bigint;
}

/**
 * The bytes a capability takes in the chain, by its record: `struct
 * vfio_iommu_type1_info_dma_avail` is the header (8) and `avail`; `struct
 * vfio_iommu_type1_info_cap_iova_range` the header, `nr_iovas`, a pad, then each `{start,
 * end}`; `struct vfio_iommu_type1_info_cap_migration` the header, `flags`, `pgsize_bitmap` and
 * `max_dirty_bitmap_size`.
 */
export function capSize(record: Fields): bigint {
  if (record['id'] === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) return align8(12n);
  if (record['id'] === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) return 16n + 16n * big(record, 'nr_iovas');
  return 32n;
}

const cap = (record: Fields): Cap => ({ record, size: capSize(record) });

export const dmaAvailCap = (avail: bigint): Cap => cap({ id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1n, avail });

export const iovaRangeCap = (ranges: readonly IovaRange[]): Cap =>
  cap({
    id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
    version: 1n,
    nr_iovas: BigInt(ranges.length),
    iova_ranges: ranges.map((r) => ({ start: r.start, end: r.last })),
  });

const migrationCap = (iommu: Type1): Cap =>
  cap({
    id: VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
    version: 1n,
    flags: 0n,
    pgsize_bitmap: minPgsize(iommu),
    max_dirty_bitmap_size: DIRTY_BITMAP_SIZE_MAX,
  });

/**
 * What `GET_INFO` writes back: `min(argsz, sizeof)` bytes of the struct (of `cap_offset`, bytes
 * 16-19, a shorter argsz lets through at most its low bytes, zero unless the chain was copied,
 * which needs the whole struct), and the chain when `cap_offset` points at it.
 */
export function infoOut(argsz: bigint, iovaPgsizes: bigint, caps: readonly Cap[], argszWhenFits: bigint): Fields {
  const total = INFO_SIZE + caps.reduce((n, c) => n + c.size, 0n);
  const fits = caps.length === 0 || argsz >= total;
  const info: Fields = {
    argsz: fits ? argszWhenFits : total,
    // `if (caps.size)`: the flag, and a cap_offset pointing at the chain, only with a capability.
    flags: caps.length > 0 ? VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS : VFIO_IOMMU_INFO_PGSIZES,
    iova_pgsizes: iovaPgsizes,
  };
  if (argsz < CAP_OFFSET_END) return info;
  return fits && caps.length > 0 ? { ...info, cap_offset: INFO_SIZE, caps: caps.map((c) => c.record) } : { ...info, cap_offset: 0n };
}

export function type1GetInfo(call: Call, iommu: Type1, arg: ContainerArg): Result {
  if (arg.struct === null) return refuse(call, fail('EFAULT', 'vfio_iommu_type1_get_info', 'copy_from_user of a NULL argument'));
  const argsz = big(arg.struct, 'argsz');
  if (argsz < INFO_MINSZ) return refuse(call, fail('EINVAL', 'vfio_iommu_type1_get_info', 'argsz below minsz'));
  const kernel = call.world.config.kernel;
  // Before a717072007e8 (5.4) there is no chain: the ioctl copies back the first 16 bytes.
  if (hasOlder(kernel, 'type1-info-no-iova-range-cap')) {
    return ok(call.world, { argsz, flags: VFIO_IOMMU_INFO_PGSIZES, iova_pgsizes: iommu.pgsizeBitmap });
  }
  const migration = !hasOlder(kernel, 'type1-info-no-migration-cap');
  const dmaAvail = !hasOlder(kernel, 'type1-info-no-dma-avail-cap');
  const hasRanges = iommu.iovaList.length > 0;
  // Each capability grows the chain by a krealloc() (`vfio_info_cap_add()`), and the IOVA
  // ranges are gathered in a kzalloc()ed buffer first: injection points, ENOMEM.
  const nomem =
    (migration ? injected('ENOMEM', 'vfio_info_cap_add') : null) ??
    (dmaAvail ? injected('ENOMEM', 'vfio_info_cap_add') : null) ??
    (hasRanges ? (injected('ENOMEM', 'vfio_iommu_iova_build_caps') ?? injected('ENOMEM', 'vfio_info_cap_add')) : null);
  if (nomem !== null) return refuse(call, nomem);
  const caps: Cap[] = [];
  if (migration) caps.push(migrationCap(iommu));
  if (dmaAvail) caps.push(dmaAvailCap(iommu.dmaAvail));
  if (hasRanges) caps.push(iovaRangeCap(iommu.iovaList));
  return ok(call.world, infoOut(argsz, iommu.pgsizeBitmap, caps, argsz));
}
