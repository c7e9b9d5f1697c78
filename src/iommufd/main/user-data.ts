/**
 * Driver data a command points at (`struct iommu_user_data` and `_array`): the trace gives it
 * inline as `data` (a record of the driver struct's fields, an array of them for an entry
 * array, or hex bytes in memory order); bytes it does not give are zero. Without inline data
 * the pointer names user memory whose contents the model does not know: it reads as zeros
 * where it is readable and faults where it is not, as `copy_from_user()` would.
 */
import type { Fields, Value } from '../../../events/types.ts';
import type { Call } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { userMemoryReadable } from '../../mm/user-memory.ts';

/** A driver struct: each field's offset and width in bytes, and `sizeof`. */
export interface Layout {
  readonly size: number;
  readonly fields: Readonly<Record<string, readonly [offset: number, bytes: number]>>;
}

export const HWPT_SELFTEST: Layout = { size: 8, fields: { iotlb: [0, 4], pagetable_type: [4, 4] } };
export const HWPT_INVALIDATE_SELFTEST: Layout = { size: 8, fields: { flags: [0, 4], iotlb_id: [4, 4] } };
export const VIOMMU_INVALIDATE_SELFTEST: Layout = {
  size: 12,
  fields: { flags: [0, 4], vdev_id: [4, 4], cache_id: [8, 4] },
};
export const VIOMMU_SELFTEST: Layout = {
  size: 24,
  fields: { in_data: [0, 4], out_data: [4, 4], out_mmap_offset: [8, 8], out_mmap_length: [16, 8] },
};
/** A bitmap: hex bytes only. */
export const BYTES: Layout = { size: 0, fields: {} };

/** User memory as the kernel copies it: sparse known bytes, or memory of unknown contents. */
export interface UserBuffer {
  /** `copy_from_user()` of `[offset, offset + length)`. */
  read(offset: bigint, length: number): Fail | Uint8Array;
  /** `check_zeroed_user()`: EFAULT, or whether every byte of the range is zero. */
  zeroed(offset: bigint, length: bigint): Fail | boolean;
  /** The end of what the trace gave: every byte from here on reads as zero where readable. */
  readonly extent: bigint;
  /** The non-zero bytes of a readable range, by offset (memory of unknown contents has none). */
  nonZero(offset: bigint, length: bigint): Fail | [bigint, number][];
}

/**
 * The buffer behind pointer field `pointer` of a parsed struct: its inline `data` laid out as
 * `layout` (array entries `stride` bytes apart), or the memory it points at.
 */
export function userBuffer(call: Call, cmd: Fields, pointer: string, layout: Layout, stride = BigInt(layout.size)): UserBuffer {
  const data = cmd['data'];
  if (data !== undefined && data !== null) return inlineBuffer(encode(data, layout, stride));
  const addr = cmd[pointer];
  return {
    read: (offset, length) => {
      if (length === 0) return new Uint8Array(0);
      if (typeof addr !== 'bigint' || !userMemoryReadable(call.world, call.process, addr + offset, BigInt(length))) {
        return fail('EFAULT', 'copy_from_user', 'the user buffer is not readable');
      }
      return new Uint8Array(length);
    },
    zeroed: (offset, length) => {
      if (length === 0n) return true;
      if (typeof addr !== 'bigint' || !userMemoryReadable(call.world, call.process, addr + offset, length)) {
        return fail('EFAULT', 'check_zeroed_user', 'the user buffer is not readable');
      }
      return true;
    },
    extent: 0n,
    nonZero(offset, length) {
      const readable = this.zeroed(offset, length);
      return readable instanceof Fail ? readable : [];
    },
  };
}

function inlineBuffer(known: ReadonlyMap<bigint, number>): UserBuffer {
  return {
    read: (offset, length) => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = known.get(offset + BigInt(i)) ?? 0;
      return out;
    },
    zeroed: (offset, length) => {
      for (const at of known.keys()) if (at >= offset && at < offset + length) return false;
      return true;
    },
    extent: [...known.keys()].reduce((m, k) => (k + 1n > m ? k + 1n : m), 0n),
    nonZero: (offset, length) =>
      [...known.entries()].filter(([at]) => at >= offset && at < offset + length).sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

/** The non-zero bytes of inline data, by offset. */
function encode(data: Value, layout: Layout, stride: bigint): Map<bigint, number> {
  const known = new Map<bigint, number>();
  if (typeof data === 'string') {
    const hex = data.slice(2);
    for (let i = 0; i < hex.length / 2; i++) {
      const b = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
      if (b !== 0) known.set(BigInt(i), b);
    }
    return known;
  }
  const records = Array.isArray(data) ? (data as readonly Value[]) : [data];
  records.forEach((record, i) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return;
    const base = BigInt(i) * stride;
    for (const [name, value] of Object.entries(record as Fields)) {
      const field = layout.fields[name];
      if (field === undefined || typeof value !== 'bigint') continue;
      const [offset, bytes] = field;
      for (let b = 0; b < bytes; b++) {
        const at = BigInt(offset + b);
        // An entry's bytes past its stride are not in the array.
        if (Array.isArray(data) && at >= stride) break;
        const byte = Number((value >> BigInt(8 * b)) & 0xffn);
        if (byte !== 0) known.set(base + at, byte);
      }
    }
  });
  return known;
}

/**
 * `copy_struct_from_user(dst, ksize, src + offset, usize)`: a longer user struct must be zero
 * past `ksize` (E2BIG), a shorter one is zero-extended.
 */
export function copyStruct(buf: UserBuffer, offset: bigint, ksize: number, usize: bigint): Fail | Uint8Array {
  if (usize > BigInt(ksize)) {
    const zero = buf.zeroed(offset + BigInt(ksize), usize - BigInt(ksize));
    if (zero instanceof Fail) return zero;
    if (!zero) return fail('E2BIG', 'copy_struct_from_user', 'non-zero bytes past the kernel struct');
  }
  const n = usize < BigInt(ksize) ? Number(usize) : ksize;
  const got = buf.read(offset, n);
  if (got instanceof Fail) return got;
  const out = new Uint8Array(ksize);
  out.set(got);
  return out;
}

/**
 * `__iommu_copy_struct_from_user()`: the data's type must be the driver's (EINVAL), its
 * length between the struct's first version (`minLen`) and `sizeof` (EINVAL).
 */
export function copyDriverStruct(
  buf: UserBuffer,
  offset: bigint,
  type: bigint,
  expected: bigint,
  length: bigint,
  layout: Layout,
  minLen: number,
): Fail | Uint8Array {
  if (type !== expected) return fail('EINVAL', '__iommu_copy_struct_from_user', 'data type is not the driver type');
  if (length < BigInt(minLen) || BigInt(layout.size) < length) return fail('EINVAL', '__iommu_copy_struct_from_user', 'data length out of range');
  return copyStruct(buf, offset, layout.size, length);
}

/** A field of a copied struct, little-endian. */
export function fieldOf(bytes: Uint8Array, layout: Layout, name: string): bigint {
  const field = layout.fields[name];
  if (field === undefined) throw new Error(`[iommufd-model] no field ${name}`);
  const [offset, width] = field;
  let v = 0n;
  for (let b = width - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[offset + b] ?? 0);
  return v;
}

/**
 * How many of `count` entries `entryLen` apart are worth handling one by one: those the trace
 * gave, plus one. Past them every entry is the same zero entry, so handling one stands for
 * all when the rest of the array is readable (handlers of zero entries are idempotent).
 */
export function distinctEntries(buf: UserBuffer, count: bigint, entryLen: bigint): { distinct: bigint; rest: boolean } {
  if (entryLen === 0n) return { distinct: count, rest: false };
  const given = (buf.extent + entryLen - 1n) / entryLen;
  if (given + 1n >= count) return { distinct: count, rest: false };
  const zero = buf.zeroed((given + 1n) * entryLen, (count - given - 1n) * entryLen);
  return zero === true ? { distinct: given + 1n, rest: true } : { distinct: count, rest: false };
}
