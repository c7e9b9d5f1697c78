/**
 * PowerNV IODA2's TCE table rule (pnv_pci_ioda2_get_table_size(), pnv_pci_ioda2_table_alloc_pages()),
 * worked by hand: the bytes VFIO charges for a window, and the entries its table has.
 */
import { describe, expect, it } from 'vitest';
import { Fail } from '../../src/model/fail.ts';
import { tableBytes, tableShape } from '../../src/vfio/container/spapr-table.ts';

const K4 = 0x1000n;
const K64 = 0x10000n;

describe('pnv_pci_ioda2_get_table_size', () => {
  it('the default window: 2 GiB of 4 KiB pages is 2^19 TCEs, 4 MiB, twice (hardware table and userspace copy)', () => {
    expect(tableBytes(K64, 12n, 1n << 31n, 1n)).toBe(8n << 20n);
    expect(tableBytes(K4, 12n, 1n << 31n, 1n)).toBe(8n << 20n);
  });
  it('a 1 GiB window of 64 KiB pages on one level: 2^14 TCEs, 128 KiB, twice', () => {
    expect(tableBytes(K64, 16n, 1n << 30n, 1n)).toBe(256n << 10n);
  });
  it('more levels add a level of at least a page each: 8 GiB of 64 KiB pages on two levels is 1 MiB + 64 KiB, twice', () => {
    expect(tableBytes(K64, 16n, 1n << 33n, 2n)).toBe(0x220000n);
    // With 4 KiB pages the levels are 4 KiB: 2^17 TCEs split 9 + 8 bits.
    expect(tableBytes(K4, 16n, 1n << 33n, 2n)).toBe(2n * ((1n << 20n) + K4));
  });
  it('a level count outside 1 to 5 or a size not a power of two: 0 (EINVAL)', () => {
    expect(tableBytes(K64, 16n, 1n << 30n, 0n)).toBe(0n);
    expect(tableBytes(K64, 16n, 1n << 30n, 6n)).toBe(0n);
    expect(tableBytes(K64, 16n, 3n << 30n, 1n)).toBe(0n);
    expect(tableBytes(K64, 16n, 0n, 1n)).toBe(0n);
  });
  it('a window smaller than its page wraps the unsigned shifts: up to 8 times smaller, a page of TCEs; smaller still, C is undefined and the model refuses', () => {
    expect(tableBytes(K64, 16n, 1n << 13n, 1n)).toBe(2n * K64);
    expect(tableBytes(K64, 16n, 1n << 12n, 1n)).toBe(0n);
  });
});

describe('pnv_pci_ioda2_table_alloc_pages', () => {
  it('a table has one entry per page of the window, at the bus address the slot gives', () => {
    expect(tableShape(K64, 1n << 59n, 16n, 1n << 33n, 2n)).toEqual({ offset: 1n << 43n, size: 1n << 17n });
    expect(tableShape(K64, 0n, 12n, 1n << 31n, 1n)).toEqual({ offset: 0n, size: 1n << 19n });
  });
  it('never fewer entries than a page of them: a 16 MiB window of 64 KiB pages has 8192 entries, a 512 MiB reach', () => {
    expect(tableShape(K64, 0n, 16n, 1n << 24n, 1n)).toEqual({ offset: 0n, size: 8192n });
  });
  it('an unaligned bus address is rounded down to the page', () => {
    expect(tableShape(K64, 0x12345n, 16n, 1n << 30n, 1n)).toEqual({ offset: 1n, size: 1n << 14n });
  });
  it('levels indexing past 55 bits: EINVAL, after get_table_size took them', () => {
    const shape = tableShape(K64, 0n, 16n, 1n << 30n, 3n);
    expect(shape).toBeInstanceOf(Fail);
    expect((shape as Fail).check).toBe('EINVAL pnv_pci_ioda2_table_alloc_pages: the levels would index past 55 bits');
    expect(tableBytes(K64, 16n, 1n << 30n, 3n)).toBeGreaterThan(0n);
  });
});
