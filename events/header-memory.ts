/**
 * The memory a header declares (trace-format.md, "Header"): its page sizes, and the mappings
 * present before the first event, each one that `mmap(MAP_FIXED)` could have made and no two
 * overlapping, so that the model starts from an address space a process can have.
 */
import { FieldError } from './field-error.ts';
import { parseKernelNumber } from './numbers.ts';
import { show } from './quote.ts';
import type { Fields } from './types.ts';

/** The page sizes Linux builds with: arch/Kconfig's PAGE_SIZE_4KB to PAGE_SIZE_256KB (PAGE_SHIFT 12-16 and 18). */
const PAGE_SIZES: readonly bigint[] = [12n, 13n, 14n, 15n, 16n, 18n].map((shift) => 1n << shift);

/** The largest huge page Linux has: 16 GiB, powerpc's MMU_PAGE_16G. */
const MAX_HUGEPAGE_SIZE = 1n << 34n;

const TWO_TO_64 = 1n << 64n;

export function parsePageSize(raw: unknown): bigint {
  const value = parseKernelNumber(raw, 'u64');
  if (!PAGE_SIZES.includes(value)) {
    throw new FieldError('', `${show(raw)} is not a page size Linux has (4, 8, 16, 32, 64 or 256 KiB)`);
  }
  return value;
}

/** A power of two; whether it fits the page size is `checkHugepageSize`'s to say, once both are read. */
export function parseHugepageSize(raw: unknown): bigint {
  const value = parseKernelNumber(raw, 'u64');
  if (value === 0n || (value & (value - 1n)) !== 0n) throw new FieldError('', `${show(raw)} is not a power of two`);
  return value;
}

/** A huge page holds whole pages, and is no larger than any Linux has. */
export function checkHugepageSize(value: bigint, raw: unknown, pageSize: bigint): void {
  if (value < pageSize || value > MAX_HUGEPAGE_SIZE) {
    throw new FieldError('', `${show(raw)} is out of range for hugepage_size (page_size ${pageSize} to 2^34)`);
  }
}

interface Extent {
  readonly index: number;
  readonly start: bigint;
  /** One past the last byte; at most 2^64. */
  readonly end: bigint;
}

/**
 * Each mapping as `mmap(MAP_FIXED)` checks it (mm/mmap.c: `do_mmap()`, `__get_unmapped_area()`):
 * a length that is not 0, an address aligned to its page (its huge page for a `hugepage`
 * mapping), an end within the 64-bit address space once the length is rounded up to whole
 * pages; then no two of them overlapping.
 */
export function checkMappings(mappings: readonly Fields[], pageSize: bigint, hugepageSize: bigint): void {
  const extents = mappings.map((fields, index): Extent => {
    const granule = fields['hugepage'] === true ? hugepageSize : pageSize;
    const start = typeof fields['addr'] === 'bigint' ? fields['addr'] : 0n;
    const length = typeof fields['length'] === 'bigint' ? fields['length'] : 0n;
    if (length === 0n) throw new FieldError(`[${index}].length`, 'a mapping needs a length that is not 0');
    if (start % granule !== 0n) {
      throw new FieldError(`[${index}].addr`, `0x${start.toString(16)} is not aligned to its page size 0x${granule.toString(16)}`);
    }
    const end = start + ((length + granule - 1n) / granule) * granule;
    if (end > TWO_TO_64) throw new FieldError(`[${index}]`, 'the mapping runs past the end of the address space');
    return { index, start, end };
  });
  const byStart = [...extents].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.index - b.index));
  for (let i = 1; i < byStart.length; i++) {
    const [before, after] = [byStart[i - 1] as Extent, byStart[i] as Extent];
    if (after.start < before.end) {
      const [first, second] = before.index < after.index ? [before, after] : [after, before];
      throw new FieldError(`[${second.index}]`, `overlaps mappings[${first.index}]`);
    }
  }
}
