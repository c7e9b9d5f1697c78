/**
 * How PowerNV IODA2 sizes and lays out a DMA window's TCE table
 * (arch/powerpc/platforms/powernv/pci-ioda.c, pci-ioda-tce.c): the memory a window costs,
 * which VFIO charges to `locked_vm` before it makes the table, and the entries the table has.
 *
 * The kernel computes in C's unsigned types: `unsigned int` shifts wrap, so a window smaller
 * than one IOMMU page gets a table of at least a page. Where its arithmetic shifts by 64 or
 * more, which C leaves undefined, the model refuses the window as a size of 0 does (EINVAL).
 */
import { type Fail, fail } from '../../model/fail.ts';

/** `POWERNV_IOMMU_MAX_LEVELS`. */
const MAX_LEVELS = 5n;
const U32 = 1n << 32n;

const isPowerOf2 = (v: bigint): boolean => v > 0n && (v & (v - 1n)) === 0n;
const ilog2 = (v: bigint): bigint => BigInt(v.toString(2).length - 1);
const align = (v: bigint, a: bigint): bigint => (v + a - 1n) & ~(a - 1n);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
/** `1UL << n`, null where C leaves it undefined. */
const shl = (n: bigint): bigint | null => (n < 64n ? 1n << n : null);

/** The table's shifts as both functions compute them: of the whole table and of one level. */
function shifts(pageSize: bigint, pageShift: bigint, windowSize: bigint, levels: bigint): { table: bigint; level: bigint } {
  const entriesShift = (ilog2(windowSize) - pageShift + U32) % U32;
  const perLevel = (entriesShift + levels - 1n) % U32 / levels;
  return { table: (entriesShift + 3n) % U32, level: max((perLevel + 3n) % U32, ilog2(pageSize)) };
}

/**
 * `pnv_pci_ioda2_get_table_size()`: the bytes of a table of `levels` levels for a window of
 * `windowSize` bytes in pages of `1 << pageShift`, twice (the hardware table and its
 * userspace copy); 0 (EINVAL) for a level count outside 1 to 5 or a size not a power of 2.
 */
export function tableBytes(pageSize: bigint, pageShift: bigint, windowSize: bigint, levels: bigint): bigint {
  if (levels === 0n || levels > MAX_LEVELS || !isPowerOf2(windowSize)) return 0n;
  const s = shifts(pageSize, pageShift, windowSize, levels);
  const whole = shl(s.table);
  const direct = shl(s.level);
  if (whole === null || direct === null) return 0n;
  let size = max(0x1000n, whole);
  let bytes = 0n;
  for (let n = levels; n > 0n; n--) {
    bytes += align(size, direct);
    size = max((size / direct) << 3n, direct);
  }
  return bytes + bytes;
}

/** The entries of a new table: `it_offset` and `it_size`. */
interface TableShape {
  readonly offset: bigint;
  readonly size: bigint;
}

/**
 * `pnv_pci_ioda2_table_alloc_pages()` for a window at bus address `busOffset`, once
 * `tableBytes()` took it: the indirection may not reach past 55 address bits (EINVAL); the
 * table has as many entries as the window has pages, and never less than a page of them.
 */
export function tableShape(pageSize: bigint, busOffset: bigint, pageShift: bigint, windowSize: bigint, levels: bigint): Fail | TableShape {
  const s = shifts(pageSize, pageShift, windowSize, levels);
  if ((s.level - 3n) * levels + pageShift >= 55n) return fail('EINVAL', 'pnv_pci_ioda2_table_alloc_pages', 'the levels would index past 55 bits');
  const table = max(s.table, ilog2(pageSize));
  return { offset: busOffset >> pageShift, size: (1n << table) >> 3n };
}
