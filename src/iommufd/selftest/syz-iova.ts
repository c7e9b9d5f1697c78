/**
 * The selftest's syzkaller mode (`MOCK_FLAGS_ACCESS_SYZ`, selftest.c): a fuzzer cannot guess the
 * IOVAs that maps chose, so the access test ops and `IOMMU_IOAS_COPY`'s source take an IOVA
 * named as "this byte of the nth area" instead.
 */
import { nthArea } from '../io-pagetable/io-pagetable.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { Access, Ctx, IoPagetable } from '../../model/world.ts';

export const MOCK_FLAGS_ACCESS_SYZ = 1n << 16n;

/**
 * `__iommufd_test_syz_conv_iova()`: the 64-bit value is a `struct syz_layout { __u32 nth_area;
 * __u32 offset; }` (little-endian: `nth_area` is the low half). The result is the start of the
 * nth area in IOVA order plus `offset`, even past that area's end; 0 when there is no nth area.
 */
export function syzIova(iopt: IoPagetable, value: bigint): bigint {
  const area = nthArea(iopt, value & 0xffffffffn);
  const offset = (value >> 32n) & 0xffffffffn;
  return area === undefined ? 0n : (area.start + offset) & U64_MAX;
}

/** `iommufd_test_syz_conv_iova()` for an access: through the IOAS it is attached to, 0 when none. */
export function syzAccessIova(ctx: Ctx, access: Access, value: bigint): bigint {
  const ioas = access.ioas === null ? undefined : ctx.objects.get(access.ioas);
  return ioas?.type === 'ioas' ? syzIova(ioas.iopt, value) : 0n;
}
