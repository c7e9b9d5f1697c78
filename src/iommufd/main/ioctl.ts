/**
 * The rules every iommufd ioctl shares (`iommufd_fops_ioctl()`, spec §2.2): the argument's
 * `size` is read first (a NULL argument faults), must reach the op's minimum, and bytes past
 * the kernel's struct must be zero; a shorter struct reads as zero-filled, and only
 * `min(size, sizeof)` bytes are written back.
 */
import { DATA_KEY } from '../../../events/op-plan.ts';
import type { FieldSpec, StructSpec } from '../../../events/spec-types.ts';
import type { EventArgs, Fields, Value } from '../../../events/types.ts';
import { type Call, type Result, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { structIn } from '../../kernel/profile.ts';

function width(field: FieldSpec): number {
  const unit = field.type === 'u8' ? 1 : field.type === 'u16' ? 2 : field.type === 'u64' ? 8 : 4;
  return unit * (field.count ?? 1);
}

/** The value a field holds when only its first `bytes` bytes were copied (little-endian). */
function truncated(value: Value, bytes: number): Value {
  if (bytes <= 0) return typeof value === 'bigint' ? 0n : null;
  return typeof value === 'bigint' ? value & ((1n << BigInt(8 * bytes)) - 1n) : value;
}

/** Keeps of `fields` what lies within the first `size` bytes of the struct. */
function clip(struct: StructSpec, fields: Fields, size: number): Fields {
  if (size >= struct.size) return fields;
  const out: Record<string, Value> = {};
  for (const [name, value] of Object.entries(fields)) {
    const field = struct.fields.find((f) => f.name === name);
    out[name] = field === undefined ? value : truncated(value, Math.min(width(field), size - field.offset));
  }
  return out;
}

/**
 * Runs a struct ioctl under the common rules. `handler` sees the struct as the kernel's
 * zero-filled copy; the result's outputs are cut to what the kernel writes back. `where` is the
 * kernel function that reads the size: VFIO's extensible structs check theirs in the ioctl itself.
 */
export function structIoctl(call: Call, struct: StructSpec, handler: (cmd: Fields) => Result, where = 'iommufd_fops_ioctl'): Result {
  const args: EventArgs | null = call.event.args;
  if (args === null) return refuse(call, fail('EFAULT', where, 'get_user(size) of a NULL argument'));
  // An older release's struct is shorter: its fields past that end are bytes it does not know.
  const kernel = structIn(call.world.config.kernel, struct);
  if (args.size < kernel.minSize) return refuse(call, fail('EINVAL', where, 'size is below the minimum'));
  if (args.trailing.some((b) => b !== 0) || setPast(struct, args.fields, kernel.size, args.size)) {
    return refuse(call, fail('E2BIG', 'copy_struct_from_user', 'non-zero bytes past the kernel struct'));
  }
  const copied = Math.min(args.size, kernel.size);
  const result = handler(clip(struct, args.fields, copied));
  if (copied >= struct.size) return result;
  return { ...result, out: clip(struct, result.out, copied) };
}

/**
 * Whether an input field the caller passed lies past `end`, the end of the kernel's struct, and
 * is not zero. Inline driver data stands for a user pointer that is not NULL.
 */
function setPast(struct: StructSpec, fields: Fields, end: number, size: number): boolean {
  if (end >= struct.size || size <= end) return false;
  const inline = fields[DATA_KEY] !== undefined && fields[DATA_KEY] !== null;
  return struct.fields.some(
    (f) => f.offset >= end && f.offset < size && f.dir !== 'out' && ((f.pointer?.kind === 'data' && inline) || isSet(fields[f.name])),
  );
}

const isSet = (value: Value | undefined): boolean => typeof value === 'bigint' && value !== 0n;
