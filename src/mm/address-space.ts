/**
 * A process's user address space: the mappings `MMAP` made and `MUNMAP` removed, enough to
 * tell whether a user address is backed (GUP fails with EFAULT where it is not) and by what.
 */
import type { OrderedMap } from '../model/ordered-map.ts';
import { atOrAfter, intersecting } from '../model/ranges.ts';
import type { Mapping, ModelConfig } from '../model/world.ts';

/** The end of the user address space: this model has no TASK_SIZE below 2^64. */
export const USER_END = 1n << 64n;

/** Where `mmap(NULL, ...)` lands in this model: from here up (see `mmapChoiceAlign`). */
export const MMAP_BASE = 0x7f0000200000n;
const MMAP_ALIGN = 0x200000n;

/** What a mapping's length rounds up to and a fixed address must be a multiple of. */
export const mmapGranule = (config: ModelConfig, hugepage: boolean): bigint => (hugepage ? config.hugepageSize : config.pageSize);

/** The alignment of the address this model picks for `mmap(NULL, ...)`: 2 MiB, or `hugepage_size` for a huge page mapping. */
export const mmapChoiceAlign = (config: ModelConfig, hugepage: boolean): bigint => (hugepage ? config.hugepageSize : MMAP_ALIGN);

/** `munmap()`: removes `[start, last]` from the address space, splitting mappings at its ends. */
export function unmapUser(mm: OrderedMap<bigint, Mapping>, start: bigint, last: bigint): OrderedMap<bigint, Mapping> {
  let out = mm;
  for (const m of [...intersecting(mm, start, last)]) {
    out = out.delete(m.start);
    if (m.start < start) out = out.set(m.start, slice(m, m.start, start - 1n));
    if (m.last > last) out = out.set(last + 1n, slice(m, last + 1n, m.last));
  }
  return out;
}

/** `mmap(MAP_FIXED)`: the new mapping replaces whatever was there. */
export function mapUser(mm: OrderedMap<bigint, Mapping>, mapping: Mapping): OrderedMap<bigint, Mapping> {
  return unmapUser(mm, mapping.start, mapping.last).set(mapping.start, mapping);
}

/** The part `[start, last]` of a mapping, keeping its file offset in step. */
function slice(m: Mapping, start: bigint, last: bigint): Mapping {
  const shift = start - m.start;
  const backing = { ...m.backing, offset: m.backing.offset + shift };
  return { ...m, start, last, backing };
}

/** Whether `[start, last]` overlaps no mapping. */
export function isFree(mm: OrderedMap<bigint, Mapping>, start: bigint, last: bigint): boolean {
  return intersecting(mm, start, last).next().done === true;
}

/** The lowest free `align`-aligned address from MMAP_BASE up with room for `length` bytes. */
export function lowestFreeAddress(mm: OrderedMap<bigint, Mapping>, length: bigint, align: bigint): bigint {
  let at = MMAP_BASE;
  for (;;) {
    at = ((at + align - 1n) / align) * align;
    const clash = atOrAfter(mm, at);
    if (clash === undefined || clash.start > at + length - 1n) return at;
    at = clash.last + 1n;
  }
}
