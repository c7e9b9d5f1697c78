/**
 * Type1's `VFIO_IOMMU_DIRTY_PAGES` (`vfio_iommu_type1_dirty_pages()`), v2 containers only:
 * START gives every mapping a bitmap (EINVAL for one too large for a bitmap), STOP drops them,
 * GET_BITMAP writes the dirty bits of the mappings a range covers, a range that must not cut a
 * mapping. Every page of a mapping reads as dirty (dirty-bitmap.ts).
 */
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, ok, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import { absentOp } from '../../kernel/profile.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import type { Type1 } from '../state.ts';
import { putType1 } from '../store.ts';
import { DIRTY_BITMAP_PAGES_MAX, type UserBitmap, accessOk, bitmapSizeOk, bitsWritable, dirtyHex, pageShift } from './dirty-bitmap.ts';
import { bisects, dmaSize, dmasFrom, minPgsize } from './type1-dma.ts';

const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1n;
const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 2n;
const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 4n;

/** `offsetofend(struct vfio_iommu_type1_dirty_bitmap, flags)`, and `sizeof(struct vfio_iommu_type1_dirty_bitmap_get)`. */
const MINSZ = 8n;
const RANGE_SIZE = 40n;

const WHERE = 'vfio_iommu_type1_dirty_pages';

export function type1DirtyPages(call: Call, id: number, iommu: Type1, arg: ContainerArg): Result {
  // The number is SPAPR's REGISTER_MEMORY too: a release before 5.8 answers it on type1 as any
  // command vfio_iommu_type1_ioctl() does not know.
  const absent = absentOp(call.world.config.kernel, 'VFIO_IOMMU_DIRTY_PAGES');
  if (absent !== undefined) return refuse(call, fail(absent, 'vfio_iommu_type1_ioctl', 'no VFIO_IOMMU_DIRTY_PAGES in this release'));
  if (!iommu.v2) return refuse(call, fail('EACCES', WHERE, 'a v1 container'));
  if (arg.struct === null) return refuse(call, fail('EFAULT', WHERE, 'copy_from_user of a NULL argument'));
  const dirty = arg.struct;
  const flags = big(dirty, 'flags');
  const argsz = big(dirty, 'argsz');
  const known = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if (argsz < MINSZ || (flags & ~known) !== 0n) return refuse(call, fail('EINVAL', WHERE, 'argsz below minsz or flags has unknown bits'));
  // __ffs(flags) != __fls(flags): not exactly one flag.
  if (flags === 0n || (flags & (flags - 1n)) !== 0n) return refuse(call, fail('EINVAL', WHERE, 'not exactly one flag'));
  const pgsize = minPgsize(iommu);
  if (flags === VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    if (iommu.dirtyTracking) return ok(call.world);
    // vfio_dma_bitmap_alloc_all(): each mapping's bitmap is a kvzalloc() (an injection point,
    // ENOMEM); a failure frees the bitmaps made before it and leaves tracking off.
    for (const dma of iommu.dmas.values()) {
      if (dmaSize(dma) / pgsize > DIRTY_BITMAP_PAGES_MAX) return refuse(call, fail('EINVAL', 'vfio_dma_bitmap_alloc', 'a mapping has more pages than a bitmap holds'));
      const nomem = injected('ENOMEM', 'vfio_dma_bitmap_alloc');
      if (nomem !== null) return refuse(call, nomem);
    }
    return ok(putType1(call.world, id, { ...iommu, dirtyTracking: true }));
  }
  if (flags === VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) return ok(putType1(call.world, id, { ...iommu, dirtyTracking: false }));
  return getBitmap(call, iommu, dirty, argsz, pgsize);
}

/** GET_BITMAP, in `vfio_iommu_type1_dirty_pages()`'s order, then `vfio_iova_dirty_bitmap()`. */
function getBitmap(call: Call, iommu: Type1, dirty: Fields, argsz: bigint, pgsize: bigint): Result {
  if (argsz - MINSZ < RANGE_SIZE) return refuse(call, fail('EINVAL', WHERE, 'argsz has no room for the range'));
  const iova = big(dirty, 'iova');
  const size = big(dirty, 'size');
  const given = (dirty['bitmap'] ?? {}) as Fields;
  const bitmap: UserBitmap = { pgsize: big(given, 'pgsize'), size: big(given, 'size'), data: big(given, 'data') };
  if (iova + size >= 1n << 64n) return refuse(call, fail('EINVAL', WHERE, 'iova + size wraps'));
  if (!accessOk(bitmap.data, bitmap.size)) return refuse(call, fail('EINVAL', WHERE, 'the bitmap is not user memory (access_ok)'));
  if (!bitmapSizeOk(size >> pageShift(bitmap.pgsize), bitmap.size)) return refuse(call, fail('EINVAL', 'verify_bitmap_size', 'no pages, or a bitmap too small or too large'));
  if (bitmap.pgsize !== pgsize) return refuse(call, fail('EINVAL', WHERE, 'the bitmap page size is not the smallest'));
  if ((iova & (pgsize - 1n)) !== 0n || size === 0n || (size & (pgsize - 1n)) !== 0n) {
    return refuse(call, fail('EINVAL', WHERE, 'iova or size not aligned to the smallest page size, or size 0'));
  }
  if (!iommu.dirtyTracking) return refuse(call, fail('EINVAL', WHERE, 'dirty tracking is off'));
  const last = iova + size - 1n;
  if (bisects(iommu, iova, last)) return refuse(call, fail('EINVAL', 'vfio_iova_dirty_bitmap', 'the range would cut a mapping'));
  const shift = pageShift(pgsize);
  const dmas = [...dmasFrom(iommu, iova, last)];
  for (const dma of dmas) {
    if (!bitsWritable(call.world, call.process, bitmap, dma, iova, shift)) return refuse(call, fail('EFAULT', 'update_user_bitmap', 'the bitmap is not writable'));
  }
  return ok(call.world, { bitmap: dirtyHex(size >> shift, dmas, iova, shift) });
}
