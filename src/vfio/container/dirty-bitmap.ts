/**
 * Type1's dirty bitmaps (`struct vfio_bitmap`, `update_user_bitmap()`, `verify_bitmap_size()`):
 * a bit per page of the smallest IOMMU page size, from the start of the range asked about,
 * written a 64-bit word at a time. Every page of a mapping reads as dirty: each group attached
 * is backed by an IOMMU domain that can write anywhere the mapping reaches and none reports what
 * it dirtied (`num_non_pinned_groups`), so `update_user_bitmap()` sets the whole mapping.
 */
import type { Process, World } from '../../model/world.ts';
import { userMemoryReadable, userMemoryWritable } from '../../mm/user-memory.ts';
import type { VfioDma } from '../state.ts';
import { SHOWN_BITMAP_BYTES } from '../../model/shown-bitmap.ts';

/** `DIRTY_BITMAP_PAGES_MAX`: a bitmap has at most INT_MAX bits. */
export const DIRTY_BITMAP_PAGES_MAX = 0x7fffffffn;

/** `DIRTY_BITMAP_BYTES(n)`: whole 64-bit words. */
const bitmapBytes = (bits: bigint): bigint => ((bits + 63n) / 64n) * 8n;

/** `DIRTY_BITMAP_SIZE_MAX`, which the migration capability reports. */
export const DIRTY_BITMAP_SIZE_MAX = bitmapBytes(DIRTY_BITMAP_PAGES_MAX);

/** A user's `struct vfio_bitmap`. */
export interface UserBitmap {
  readonly pgsize: bigint;
  readonly size: bigint;
  readonly data: bigint;
}

/** `__ffs()` of a page size; x86's `tzcnt` gives 64 for 0, which a 64-bit shift takes as 0. */
export const pageShift = (pgsize: bigint): bigint => {
  if (pgsize === 0n) return 0n;
  let shift = 0n;
  while (((pgsize >> shift) & 1n) === 0n) shift++;
  return shift;
};

/** `verify_bitmap_size()`: some pages, a bitmap no larger than the maximum and large enough for them. */
export const bitmapSizeOk = (npages: bigint, size: bigint): boolean =>
  npages !== 0n && size !== 0n && size <= DIRTY_BITMAP_SIZE_MAX && size >= bitmapBytes(npages);

/** `access_ok()`: the model's user address space ends at 2^64. */
export const accessOk = (addr: bigint, size: bigint): boolean => addr + size <= 1n << 64n;

/**
 * Whether `update_user_bitmap()` can write `dma`'s bits for a range from `base`: the words it
 * covers must be writable, and when the mapping starts inside a word, that word readable too
 * (its lower bits are kept).
 */
export function bitsWritable(world: World, process: Process, bitmap: UserBitmap, dma: VfioDma, base: bigint, shift: bigint): boolean {
  const bitOffset = (dma.start - base) >> shift;
  const nbits = (dma.last - dma.start + 1n) >> shift;
  const at = bitmap.data + (bitOffset / 64n) * 8n;
  const inWord = bitOffset % 64n;
  if (inWord !== 0n && !userMemoryReadable(world, process, at, 8n)) return false;
  return userMemoryWritable(world, process, at, bitmapBytes(nbits + inWord));
}

/**
 * The bitmap of `npages` pages with the pages of `dmas` (ascending) set, as hex in memory
 * order; bits no mapping covers read 0, as a freshly zeroed buffer has them. Built a run at a
 * time, so its cost is its length in bytes, as the kernel's copy is; shown up to
 * `SHOWN_BITMAP_BYTES`.
 */
export function dirtyHex(npages: bigint, dmas: readonly VfioDma[], base: bigint, shift: bigint): string {
  const nbytes = bitmapBytes(npages);
  const bytes = new Uint8Array(Number(nbytes < SHOWN_BITMAP_BYTES ? nbytes : SHOWN_BITMAP_BYTES));
  const shown = BigInt(bytes.length) * 8n;
  for (const dma of dmas) {
    const first = (dma.start - base) >> shift;
    const past = first + ((dma.last - dma.start + 1n) >> shift);
    const end = past < shown ? past : shown;
    if (first >= end) continue;
    let bit = first;
    for (; bit < end && bit % 8n !== 0n; bit++) setBit(bytes, bit);
    const whole = (end - bit) / 8n;
    if (whole > 0n) bytes.fill(0xff, Number(bit / 8n), Number(bit / 8n + whole));
    for (bit += whole * 8n; bit < end; bit++) setBit(bytes, bit);
  }
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

function setBit(bytes: Uint8Array, bit: bigint): void {
  const i = Number(bit / 8n);
  bytes[i] = (bytes[i] ?? 0) | (1 << Number(bit % 8n));
}
