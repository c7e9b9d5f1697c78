/**
 * Type1's `VFIO_IOMMU_MAP_DMA` and `VFIO_IOMMU_UNMAP_DMA` (`vfio_iommu_type1_map_dma()`,
 * `vfio_dma_do_map()`, `vfio_iommu_type1_unmap_dma()`, `vfio_dma_do_unmap()`), check for
 * check in the kernel's order.
 *
 * A mapping is one `struct vfio_dma`, never merged with its neighbours; it is pinned and
 * charged whole or not at all (`vfio_pin_map_dma()` removes a partly pinned one). Each
 * container pins and charges its own mappings, so two containers mapping the same memory
 * charge it twice. A mapping whose IOVA range ends at 2^64 - 1 is found here as any other;
 * the kernel's rb-tree walks compute `iova + size`, which wraps to 0 there, and may miss it.
 */
import { storeCowBreaks } from '../../mm/cow.ts';
import { pinUser } from '../../mm/physical.ts';
import { type Call, type Result, big, ok, partial, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import { acceptedFlags, hasOlder } from '../../kernel/profile.ts';
import { atOrAfter, firstIntersecting, U64_MAX } from '../../model/ranges.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import type { Type1, VfioDma } from '../state.ts';
import { capable, putType1 } from '../store.ts';
import { DIRTY_BITMAP_PAGES_MAX, type UserBitmap, accessOk, bitmapSizeOk, bitsWritable, dirtyHex, pageShift } from './dirty-bitmap.ts';
import { charge, lockRoom, owed, uncharge } from './locked-vm.ts';
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR } from '../uapi.ts';

const IOMMU_READ = 1;
const IOMMU_WRITE = 2;

/** `offsetofend(..., size)` of the map and unmap structs, and `sizeof(struct vfio_bitmap)`. */
const MAP_MINSZ = 32n;
const UNMAP_MINSZ = 24n;
const BITMAP_SIZE = 24n;

/** The smallest IOMMU page size: every alignment check uses it (`1 << __ffs(pgsize_bitmap)`). */
export const minPgsize = (iommu: Type1): bigint => iommu.pgsizeBitmap & -iommu.pgsizeBitmap;

/** The mapping overlapping `[start, last]`, if any (`vfio_find_dma()`). */
const findDma = (iommu: Type1, start: bigint, last: bigint): VfioDma | undefined => firstIntersecting(iommu.dmas, start, last);

export const dmaSize = (dma: VfioDma): bigint => dma.last - dma.start + 1n;

/**
 * The pages `vfio_pin_pages_remote()` pins and charges for `size` bytes of user memory from
 * `vaddr`: every page the range touches, for no page is reserved and none was pinned before by
 * an emulated device (`vfio_find_vpfn()`), so a page mapped twice is charged twice, within one
 * container as across two.
 */
export const remotePages = (pageSize: bigint, vaddr: bigint, size: bigint): bigint => (vaddr + size - 1n) / pageSize - vaddr / pageSize + 1n;

/** The mapping in the list (`vfio_link_dma()`), and what it charged (`dma->locked_vm`) in `charged` under its owner. */
export const linkDma = (iommu: Type1, dma: VfioDma): Type1 => ({
  ...iommu,
  dmas: iommu.dmas.set(dma.start, dma),
  charged: owed(iommu.charged, dma.owner, dma.lockedVm),
});

/** The mapping out of the list (`vfio_unlink_dma()`), and what it charged out of `charged`. */
export const unlinkDma = (iommu: Type1, dma: VfioDma): Type1 => ({
  ...iommu,
  dmas: iommu.dmas.delete(dma.start),
  charged: owed(iommu.charged, dma.owner, -dma.lockedVm),
});

/** The mapping a range starting at `iova` would cut: one holding `iova` that starts below it. */
function headCut(iommu: Type1, iova: bigint): VfioDma | undefined {
  const head = findDma(iommu, iova, iova);
  return head !== undefined && head.start !== iova ? head : undefined;
}

/** Whether a range ending at `last` would cut a mapping; vfio_find_dma(iova + size - 1, 0) finds only one starting below that IOVA. */
function tailCut(iommu: Type1, last: bigint): boolean {
  const tail = findDma(iommu, last, last);
  return tail !== undefined && tail.start < last && tail.last !== last;
}

/** A mapping the range `[iova, last]` would cut at either end (the v2 unmap and dirty-bitmap rule). */
export const bisects = (iommu: Type1, iova: bigint, last: bigint): boolean => headCut(iommu, iova) !== undefined || tailCut(iommu, last);

/** The mappings whose first IOVA is in `[iova, last]`, ascending. */
export function* dmasFrom(iommu: Type1, iova: bigint, last: bigint): Generator<VfioDma> {
  for (const [start, dma] of iommu.dmas.entriesFrom(iova)) {
    if (start > last) return;
    yield dma;
  }
}

/** `vfio_iommu_iova_dma_valid()`: inside one usable range (anything goes with none). */
function iovaValid(iommu: Type1, start: bigint, last: bigint): boolean {
  return iommu.iovaList.length === 0 || iommu.iovaList.some((r) => start >= r.start && last <= r.last);
}

/** The IOVA range `[iova, iova + size - 1]`, or null when it wraps past 2^64. */
const lastOf = (iova: bigint, size: bigint): bigint | null => (iova + size - 1n > U64_MAX ? null : iova + size - 1n);

export function mapDma(call: Call, id: number, iommu: Type1, arg: ContainerArg): Result {
  if (arg.struct === null) return refuse(call, fail('EFAULT', 'vfio_iommu_type1_map_dma', 'copy_from_user of a NULL argument'));
  const map = arg.struct;
  const flags = big(map, 'flags');
  const known = acceptedFlags(call.world.config.kernel, 'VFIO_IOMMU_MAP_DMA', VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR);
  if (big(map, 'argsz') < MAP_MINSZ || (flags & ~known) !== 0n) {
    return refuse(call, fail('EINVAL', 'vfio_iommu_type1_map_dma', 'argsz below minsz or flags has unknown bits'));
  }
  const prot = ((flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0n ? IOMMU_WRITE : 0) | ((flags & VFIO_DMA_MAP_FLAG_READ) !== 0n ? IOMMU_READ : 0);
  const setVaddr = (flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0n;
  if ((prot !== 0) === setVaddr) return refuse(call, fail('EINVAL', 'vfio_dma_do_map', 'READ or WRITE with VADDR, or neither without'));
  const iova = big(map, 'iova');
  const vaddr = big(map, 'vaddr');
  const size = big(map, 'size');
  const mask = minPgsize(iommu) - 1n;
  if (size === 0n || ((size | iova | vaddr) & mask) !== 0n) return refuse(call, fail('EINVAL', 'vfio_dma_do_map', 'size 0, or not aligned to the smallest page size'));
  const last = lastOf(iova, size);
  if (last === null || lastOf(vaddr, size) === null) return refuse(call, fail('EINVAL', 'vfio_dma_do_map', 'the iova or vaddr range wraps'));
  const dma = findDma(iommu, iova, last);
  if (setVaddr) return updateVaddr(call, id, iommu, dma, iova, last, vaddr);
  if (dma !== undefined) return refuse(call, fail('EEXIST', 'vfio_dma_do_map', 'the range overlaps a mapping'));
  if (iommu.dmaAvail === 0n && !hasOlder(call.world.config.kernel, 'type1-no-dma-entry-limit')) return refuse(call, fail('ENOSPC', 'vfio_dma_do_map', 'dma_entry_limit mappings exist'));
  if (!iovaValid(iommu, iova, last)) return refuse(call, fail('EINVAL', 'vfio_iommu_iova_dma_valid', 'the range is not inside one usable IOVA range'));
  // The kzalloc() of the struct vfio_dma.
  const nomem = injected('ENOMEM', 'vfio_dma_do_map');
  if (nomem !== null) return refuse(call, nomem);
  const pinned = pinMapping(call, iommu, { start: iova, last, vaddr, prot });
  if (pinned instanceof Fail) return refuse(call, pinned);
  return ok(putType1(pinned.world, id, pinned.iommu));
}

/**
 * `vfio_pin_map_dma()` of a new mapping: its pages pinned from the caller's memory page by page
 * (`vfio_pin_pages_remote()`), each checked against RLIMIT_MEMLOCK after it is pinned, so the
 * first page GUP cannot get (EFAULT) or cannot charge (ENOMEM) fails the map and unpins it all.
 * With dirty tracking on, the mapping then needs a bitmap (`vfio_dma_bitmap_alloc()`). Two
 * injection points, ENOMEM: GUP's first pin (a page or page table it cannot allocate) and the
 * bitmap's kvzalloc(); `vfio_remove_dma()` undoes the mapping after either.
 */
function pinMapping(
  call: Call,
  iommu: Type1,
  range: Pick<VfioDma, 'start' | 'last' | 'vaddr' | 'prot'>,
): Fail | { world: World; iommu: Type1 } {
  const { world, process } = call;
  const npage = remotePages(world.config.pageSize, range.vaddr, range.last - range.start + 1n);
  const lockCap = capable(process, 'CAP_IPC_LOCK');
  const room = lockRoom(world, process, lockCap);
  const over = room !== null && room < npage;
  const nomem = injected('ENOMEM', 'vfio_pin_pages_remote');
  if (nomem !== null) return nomem;
  // GUP reaches the first page past the limit before its charge is refused.
  const pinned = pinUser(world, process, range.vaddr, over ? room + 1n : npage, (range.prot & IOMMU_WRITE) !== 0);
  if (pinned === null) return fail('EFAULT', 'vaddr_get_pfns', 'no vma, or one without the access');
  if (over) return fail('ENOMEM', 'vfio_pin_pages_remote', 'RLIMIT_MEMLOCK exceeded');
  if (iommu.dirtyTracking && (range.last - range.start + 1n) / minPgsize(iommu) > DIRTY_BITMAP_PAGES_MAX) {
    return fail('EINVAL', 'vfio_dma_bitmap_alloc', 'the mapping has more pages than a bitmap holds');
  }
  const noBitmap = iommu.dirtyTracking ? injected('ENOMEM', 'vfio_dma_bitmap_alloc') : null;
  if (noBitmap !== null) return noBitmap;
  const charged = charge(storeCowBreaks(world, pinned.breaks), process.pid, npage, lockCap);
  if (charged instanceof Fail) throw new Error('[iommufd-model] a checked charge failed');
  const dma: VfioDma = { ...range, vaddrInvalid: false, owner: process.pid, lockCap, lockedVm: npage, pins: pinned.runs };
  return { world: charged, iommu: { ...linkDma(iommu, dma), dmaAvail: iommu.dmaAvail - 1n } };
}

/**
 * The VADDR map (`VFIO_UPDATE_VADDR`, as QEMU's CPR uses it): the mapping `[iova, last]`,
 * exactly, must have its vaddr invalidated (ENOENT without one, EINVAL otherwise). Its pins and
 * IOMMU mappings stay; only the vaddr changes, and its charge moves to the caller's mm when the
 * caller is another process (`vfio_change_dma_owner()`: the new mm is charged first, so that
 * may fail with ENOMEM, then the old one uncharged).
 */
function updateVaddr(call: Call, id: number, iommu: Type1, dma: VfioDma | undefined, iova: bigint, last: bigint, vaddr: bigint): Result {
  if (dma === undefined) return refuse(call, fail('ENOENT', 'vfio_dma_do_map', 'no mapping to update'));
  if (!dma.vaddrInvalid || dma.start !== iova || dma.last !== last) {
    return refuse(call, fail('EINVAL', 'vfio_dma_do_map', 'the mapping is not exactly the range or its vaddr is valid'));
  }
  const { process } = call;
  let world = call.world;
  let moved: VfioDma = { ...dma, vaddr, vaddrInvalid: false };
  let charged = iommu.charged;
  if (process.pid !== dma.owner) {
    const { bugs } = world.config;
    const lockCap = capable(process, 'CAP_IPC_LOCK');
    moved = { ...moved, owner: process.pid, lockCap };
    // The bugs: the mapping taken over with its charge left where it was, or charged twice.
    if (!bugs.has('type1-vaddr-update-charge-not-moved')) {
      const onNew = charge(world, process.pid, dma.lockedVm, lockCap);
      if (onNew instanceof Fail) return refuse(call, onNew);
      world = bugs.has('type1-vaddr-update-double-charge') ? onNew : uncharge(onNew, dma.owner, dma.lockedVm);
      charged = owed(owed(charged, dma.owner, -dma.lockedVm), process.pid, dma.lockedVm);
    }
  }
  return ok(putType1(world, id, { ...iommu, dmas: iommu.dmas.set(dma.start, moved), vaddrInvalid: iommu.vaddrInvalid - 1, charged }));
}

/** A little-endian u64 of the bytes past an unmap struct. */
function u64At(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

/** `vfio_remove_dma()`: unpinned, uncharged from the mm it was charged to, its entry given back. */
function removeDma(world: World, iommu: Type1, dma: VfioDma): { world: World; iommu: Type1 } {
  return {
    world: uncharge(world, dma.owner, dma.lockedVm),
    iommu: {
      ...unlinkDma(iommu, dma),
      dmaAvail: iommu.dmaAvail + (world.config.bugs.has('type1-unmap-keeps-dma-entry') ? 0n : 1n),
      vaddrInvalid: iommu.vaddrInvalid - (dma.vaddrInvalid ? 1 : 0),
    },
  };
}

/**
 * `vfio_iommu_type1_unmap_dma()` and `vfio_dma_do_unmap()`. v1 never cuts a mapping: one the
 * range covers the first IOVA of goes whole, and the walk stops at one the range starts inside
 * (success, maybe with size 0). v2 refuses a range that would cut one (EINVAL). A range with
 * no mapping succeeds with size 0. ALL (iova and size 0) takes everything; VADDR invalidates
 * the vaddrs instead, all or none; GET_DIRTY_BITMAP writes each mapping's bits before it goes,
 * and a fault there (EFAULT) keeps the mappings already gone. `size` comes back on success only.
 */
export function unmapDma(call: Call, id: number, iommu: Type1, arg: ContainerArg): Result {
  const where = 'vfio_iommu_type1_unmap_dma';
  if (arg.struct === null) return refuse(call, fail('EFAULT', where, 'copy_from_user of a NULL argument'));
  const unmap = arg.struct;
  const flags = big(unmap, 'flags');
  const argsz = big(unmap, 'argsz');
  const known = acceptedFlags(call.world.config.kernel, 'VFIO_IOMMU_UNMAP_DMA', VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR);
  if (argsz < UNMAP_MINSZ || (flags & ~known) !== 0n) {
    return refuse(call, fail('EINVAL', where, 'argsz below minsz or flags has unknown bits'));
  }
  const dirty = (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0n;
  const all = (flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0n;
  const invalidate = (flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0n;
  if (dirty && (all || invalidate)) return refuse(call, fail('EINVAL', where, 'GET_DIRTY_BITMAP with ALL or VADDR'));
  const iova = big(unmap, 'iova');
  let size = big(unmap, 'size');
  let bitmap: UserBitmap | null = null;
  if (dirty) {
    if (argsz < UNMAP_MINSZ + BITMAP_SIZE) return refuse(call, fail('EINVAL', where, 'argsz has no room for the bitmap'));
    bitmap = { pgsize: u64At(arg.trailing, 0), size: u64At(arg.trailing, 8), data: u64At(arg.trailing, 16) };
    if (!accessOk(bitmap.data, bitmap.size)) return refuse(call, fail('EINVAL', where, 'the bitmap is not user memory (access_ok)'));
    if (!bitmapSizeOk(size >> pageShift(bitmap.pgsize), bitmap.size)) return refuse(call, fail('EINVAL', 'verify_bitmap_size', 'no pages, or a bitmap too small or too large'));
  }
  const pgsize = minPgsize(iommu);
  if ((iova & (pgsize - 1n)) !== 0n) return refuse(call, fail('EINVAL', 'vfio_dma_do_unmap', 'iova not aligned to the smallest page size'));
  if (all) {
    if (iova !== 0n || size !== 0n) return refuse(call, fail('EINVAL', 'vfio_dma_do_unmap', 'unmap all with a non-zero iova or size'));
    size = U64_MAX;
  } else if (size === 0n || (size & (pgsize - 1n)) !== 0n || lastOf(iova, size) === null) {
    return refuse(call, fail('EINVAL', 'vfio_dma_do_unmap', 'size 0, unaligned, or the range wraps'));
  }
  if (bitmap !== null && (!iommu.dirtyTracking || bitmap.pgsize !== pgsize)) {
    return refuse(call, fail('EINVAL', 'vfio_dma_do_unmap', 'dirty tracking off, or the bitmap page size is not the smallest'));
  }
  const last = iova + size - 1n;
  let from = iommu;
  let unmapped = 0n;
  if (iommu.v2 && !all) {
    const cut = v2Cuts(call.world, iommu, iova, last);
    if (cut instanceof Fail) return refuse(call, cut);
    ({ iommu: from, cut: unmapped } = cut);
  }
  const hit: VfioDma[] = [];
  for (const dma of dmasWalked(from, iova, last, !call.world.config.bugs.has('type1-v1-unmap-below-iova'))) hit.push(dma);
  if (invalidate) return invalidateVaddrs(call, id, from, hit);
  let world = call.world;
  let next = from;
  const shift = pageShift(pgsize);
  for (const dma of hit) {
    if (bitmap !== null && !bitsWritable(world, call.process, bitmap, dma, iova, shift)) {
      return partial(putType1(world, id, next), fail('EFAULT', 'update_user_bitmap', 'the bitmap is not writable'));
    }
    ({ world, iommu: next } = removeDma(world, next, dma));
    unmapped += dmaSize(dma);
  }
  const out = bitmap === null ? { size: unmapped } : { size: unmapped, bitmap: dirtyHex(size >> shift, hit, iova, shift) };
  return ok(putType1(world, id, next), out);
}

/**
 * v2's refusal of a range that would cut a mapping (EINVAL), and what two bugs do instead:
 * 'type1-v2-unmap-misses-tail' skips the check at the range's end, 'type1-v2-unmap-split-keeps-charge'
 * cuts a mapping the range starts inside short at `iova` (`cut`: the bytes cut off), its pins and
 * charge left whole.
 */
function v2Cuts(world: World, iommu: Type1, iova: bigint, last: bigint): Fail | { iommu: Type1; cut: bigint } {
  const { bugs } = world.config;
  const refused = fail('EINVAL', 'vfio_dma_do_unmap', 'the range would cut a mapping');
  const head = headCut(iommu, iova);
  if (head !== undefined && !bugs.has('type1-v2-unmap-split-keeps-charge')) return refused;
  if (!bugs.has('type1-v2-unmap-misses-tail') && tailCut(iommu, last)) return refused;
  if (head === undefined) return { iommu, cut: 0n };
  return { iommu: { ...iommu, dmas: iommu.dmas.set(head.start, { ...head, last: iova - 1n }) }, cut: head.last - iova + 1n };
}

/**
 * The mappings `vfio_dma_do_unmap()` walks: from the one holding `iova` (or the next) while they
 * start in range; v1 stops at one starting below `iova` (`stopBelow`, off with the bug
 * 'type1-v1-unmap-below-iova').
 */
function* dmasWalked(iommu: Type1, iova: bigint, last: bigint, stopBelow: boolean): Generator<VfioDma> {
  const first = atOrAfter(iommu.dmas, iova);
  if (first === undefined) return;
  for (const [start, dma] of iommu.dmas.entriesFrom(first.start)) {
    if (start > last) return;
    if (!iommu.v2 && stopBelow && iova > start) return;
    yield dma;
  }
}

/**
 * The VADDR unmap: every mapping walked has its vaddr invalidated; one already invalid undoes
 * the ones before it (EINVAL), which the bug 'type1-vaddr-rollback-keeps-count' leaves counted
 * in `vaddr_invalid_count`.
 */
function invalidateVaddrs(call: Call, id: number, iommu: Type1, hit: readonly VfioDma[]): Result {
  const invalid = hit.findIndex((d) => d.vaddrInvalid);
  if (invalid >= 0) {
    const refused = fail('EINVAL', 'vfio_dma_do_unmap', 'a vaddr is invalid already');
    if (invalid === 0 || !call.world.config.bugs.has('type1-vaddr-rollback-keeps-count')) return refuse(call, refused);
    return partial(putType1(call.world, id, { ...iommu, vaddrInvalid: iommu.vaddrInvalid + invalid }), refused);
  }
  let dmas = iommu.dmas;
  let unmapped = 0n;
  for (const dma of hit) {
    dmas = dmas.set(dma.start, { ...dma, vaddrInvalid: true });
    unmapped += dmaSize(dma);
  }
  return ok(putType1(call.world, id, { ...iommu, dmas, vaddrInvalid: iommu.vaddrInvalid + hit.length }), { size: unmapped });
}
