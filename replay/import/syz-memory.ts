/**
 * The memory a syzkaller program writes its ioctl arguments into, and a kernel struct read back
 * from it by the layout of events/structs.ts: what the kernel copies in, whatever syzkaller
 * called the struct. A value written from a resource (`r[1]`, `<r2=>`) stays symbolic until
 * the program runs and the resource has a value.
 */
import type { FieldSpec, StructSpec } from '../../events/spec-types.ts';
import { hex } from '../../events/value-writer.ts';

/** A resource by its number (`r1`, `r[1]`). */
export interface ResourceRef {
  readonly res: number;
}

type Cell = { readonly kind: 'byte'; readonly value: number } | { readonly kind: 'ref'; readonly ref: ResourceRef; readonly size: number; readonly at: number };

const SIZES: { readonly [T in FieldSpec['type']]: number } = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };

export class MemoryImage {
  private readonly cells = new Map<bigint, Cell>();

  copy(): MemoryImage {
    const image = new MemoryImage();
    for (const [k, v] of this.cells) image.cells.set(k, v);
    return image;
  }

  /** A little-endian integer of `size` bytes, or a resource's value once it has one. */
  write(addr: bigint, size: number, value: bigint | ResourceRef): void {
    for (let i = 0; i < size; i++) {
      const at = addr + BigInt(i);
      if (typeof value === 'bigint') this.cells.set(at, { kind: 'byte', value: Number((BigInt.asUintN(size * 8, value) >> BigInt(8 * i)) & 0xffn) });
      else this.cells.set(at, { kind: 'ref', ref: value, size, at: i });
    }
  }

  writeBytes(addr: bigint, bytes: Uint8Array): void {
    bytes.forEach((b, i) => this.cells.set(addr + BigInt(i), { kind: 'byte', value: b }));
  }

  /** Whether the program wrote anything in `[addr, addr + size)`. */
  written(addr: bigint, size: number): boolean {
    for (let i = 0; i < size; i++) if (this.cells.has(addr + BigInt(i))) return true;
    return false;
  }

  /** `size` bytes at `addr` as a little-endian integer; a resource written there whole is resolved by `value`. */
  read(addr: bigint, size: number, value: (ref: ResourceRef) => bigint): bigint {
    let out = 0n;
    for (let i = 0; i < size; i++) {
      const cell = this.cells.get(addr + BigInt(i));
      let byte = 0n;
      if (cell?.kind === 'byte') byte = BigInt(cell.value);
      else if (cell?.kind === 'ref') byte = (BigInt.asUintN(cell.size * 8, value(cell.ref)) >> BigInt(8 * cell.at)) & 0xffn;
      out |= byte << BigInt(8 * i);
    }
    return out;
  }

  /** The resource written whole at `addr`, if any. */
  refAt(addr: bigint): ResourceRef | null {
    const cell = this.cells.get(addr);
    return cell?.kind === 'ref' && cell.at === 0 ? cell.ref : null;
  }

  bytes(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const cell = this.cells.get(addr + BigInt(i));
      out[i] = cell?.kind === 'byte' ? cell.value : 0;
    }
    return out;
  }
}


/** The width of a field, counting an array member (`u8 x[3]`) whole. */
export const fieldSize = (field: FieldSpec): number => SIZES[field.type] * (field.count ?? 1);

/**
 * The arguments of an ioctl whose struct is at `addr`, as a trace writes them: `size` exactly as
 * the program wrote it, each input field that is not 0 (a member of a named inner struct nested
 * under its name), an input array behind a pointer read inline, and `__trailing` for non-zero
 * bytes between sizeof and `size`.
 */
export function readStruct(image: MemoryImage, addr: bigint, struct: StructSpec, value: (ref: ResourceRef) => bigint): { [key: string]: unknown } {
  const args: { [key: string]: unknown } = {};
  for (const field of struct.fields) {
    if (field.dir === 'out') continue;
    const raw = image.read(addr + BigInt(field.offset), fieldSize(field), value);
    const v = field.type === 's32' ? BigInt.asIntN(32, raw) : raw;
    if (field.pointer?.kind === 'array' && raw !== 0n) {
      const { countField, element } = field.pointer;
      const count = Number(image.read(addr + BigInt(struct.fields.find((f) => f.name === countField)?.offset ?? 0), 4, value));
      args[field.name] = Array.from({ length: count }, (_, i) => readStruct(image, raw + BigInt(i * element.size), element, value));
      continue;
    }
    if (v === 0n && field.name !== struct.sizeField) continue;
    const [outer, inner] = field.name.split('.') as [string, string | undefined];
    const written = field.type === 'u64' ? hex(v) : Number(v);
    if (inner === undefined) args[outer] = written;
    else args[outer] = { ...(args[outer] as object | undefined), [inner]: written };
  }
  const size = struct.sizeField === null ? struct.size : Number(image.read(addr + BigInt(struct.fields.find((f) => f.name === struct.sizeField)?.offset ?? 0), 4, value));
  if (size > struct.size) {
    const tail = image.bytes(addr + BigInt(struct.size), size - struct.size);
    if (tail.some((b) => b !== 0)) args['__trailing'] = `0x${Buffer.from(tail).toString('hex')}`;
  }
  return args;
}
