/**
 * What a caller reads back when another driver answered its ioctl number. The SPAPR TCE driver
 * reuses type1's numbers (VFIO_BASE + 12: GET_INFO is SPAPR_TCE_GET_INFO; + 17: DIRTY_PAGES is
 * SPAPR_REGISTER_MEMORY; MAP_DMA and UNMAP_DMA share their structs too), so a driver answering
 * the other's op copies its own struct into the caller's buffer. The caller sees those bytes
 * over what it passed, through its op's struct: the op's output fields the copy reached.
 */
import type { FieldSpec, ScalarType, StructSpec } from '../../../events/spec-types.ts';
import * as S from '../../../events/structs.ts';
import type { Fields, Value } from '../../../events/types.ts';
import { big } from '../../model/command.ts';
import { fieldValue } from '../ioctl-arg.ts';
import { INFO_SIZE, capSize } from './type1-info.ts';

const WIDTH: { readonly [T in ScalarType]: number } = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };
const widthOf = (f: FieldSpec): number => WIDTH[f.type] * (f.count ?? 1);

function put(bytes: Uint8Array, offset: number, width: number, value: bigint): void {
  let v = BigInt.asUintN(width * 8, value);
  for (let i = 0; i < width && offset + i < bytes.length; i++, v >>= 8n) bytes[offset + i] = Number(v & 0xffn);
}

function get(bytes: Uint8Array, offset: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

const numberOf = (v: Value | undefined): bigint => (typeof v === 'bigint' ? v : 0n);

/** `fields` laid out as `struct` in `bytes` (a field absent is 0, as the kernel's zeroed structs have it). */
function layOut(bytes: Uint8Array, struct: StructSpec, fields: Fields): void {
  for (const f of struct.fields) put(bytes, f.offset, widthOf(f), numberOf(fieldValue(fields, f.name)));
}

/** The bytes a driver's answer copies to the start of the caller's buffer (`copy_to_user()`). */
type Copy = (given: Fields, out: Fields) => Uint8Array;

function structCopy(struct: StructSpec, given: Fields, out: Fields, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  layOut(bytes, struct, { ...given, ...out });
  return bytes;
}

/**
 * `vfio_iommu_type1_get_info()`: `min(argsz, sizeof(info))` bytes of a zeroed struct, then the
 * capability chain at `cap_offset` when it fitted. Each capability starts with `struct
 * vfio_info_cap_header` (u16 id, u16 version, u32 next: the next one's offset from the
 * buffer's start, 0 for the last, `vfio_info_cap_shift()`); only headers are laid out, as no
 * op reading this number reaches past the first one.
 */
const type1Info: Copy = (given, out) => {
  const struct = structCopy(S.VFIO_IOMMU_TYPE1_INFO, given, out, Math.min(Number(big(given, 'argsz')), S.VFIO_IOMMU_TYPE1_INFO.size));
  const caps = out['caps'];
  if (big(out, 'cap_offset') === 0n || !Array.isArray(caps)) return struct;
  const records = caps as readonly Fields[];
  const total = records.reduce((n, c) => n + capSize(c), INFO_SIZE);
  const bytes = new Uint8Array(Number(total));
  bytes.set(struct);
  let at = INFO_SIZE;
  records.forEach((cap, i) => {
    const next = at + capSize(cap);
    put(bytes, Number(at), 2, big(cap, 'id'));
    put(bytes, Number(at) + 2, 2, big(cap, 'version'));
    put(bytes, Number(at) + 4, 4, i + 1 < records.length ? next : 0n);
    at = next;
  });
  return bytes;
};

/** `tce_iommu_ioctl()`'s SPAPR_TCE_GET_INFO: up to `dma32_window_size`, or through `ddw` when `argsz` holds it. */
const spaprInfo: Copy = (given, out) => {
  const { size, minSize } = S.VFIO_IOMMU_SPAPR_TCE_INFO;
  return structCopy(S.VFIO_IOMMU_SPAPR_TCE_INFO, given, out, big(given, 'argsz') >= BigInt(size) ? size : minSize);
};

/** Neither DIRTY_PAGES nor SPAPR_REGISTER_MEMORY copies its struct back (the dirty bitmap goes to `bitmap.data`). */
const nothing: Copy = () => new Uint8Array(0);

const COPIES = new Map<StructSpec, Copy>([
  [S.VFIO_IOMMU_TYPE1_INFO, type1Info],
  [S.VFIO_IOMMU_SPAPR_TCE_INFO, spaprInfo],
  [S.VFIO_IOMMU_TYPE1_DIRTY_BITMAP, nothing],
  [S.VFIO_IOMMU_SPAPR_REGISTER_MEMORY, nothing],
]);

/**
 * The output of op struct `named` when the driver read the number as struct `driver`: its
 * answer `out` (to the fields it was `given`, in its own struct) copied as bytes over the
 * caller's own `passed` fields, and the op's output fields the copy reached read back.
 * Outputs outside the struct (type1's `caps` records, a dirty `bitmap`) have no place in it.
 */
export function aliasedOut(named: StructSpec, passed: Fields, driver: StructSpec, given: Fields, out: Fields): Fields {
  const copy = COPIES.get(driver);
  if (copy === undefined) throw new Error(`[iommufd-model] no copy-out of ${driver.name} is known`);
  const written = copy(given, out);
  const bytes = new Uint8Array(Math.max(named.size, written.length));
  layOut(bytes, named, passed);
  bytes.set(written);
  const result: { [key: string]: Value } = {};
  for (const f of named.fields) {
    if (f.dir === 'in' || f.offset >= written.length) continue;
    const raw = get(bytes, f.offset, widthOf(f));
    const value = f.type === 's32' ? BigInt.asIntN(32, raw) : raw;
    const dot = f.name.indexOf('.');
    if (dot < 0) {
      result[f.name] = value;
      continue;
    }
    const group = f.name.slice(0, dot);
    result[group] = { ...((result[group] ?? {}) as Fields), [f.name.slice(dot + 1)]: value };
  }
  return result;
}
