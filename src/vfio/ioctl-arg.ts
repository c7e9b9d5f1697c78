/**
 * The argument of a VFIO container ioctl as the handlers see it, from a named event or a raw
 * `IOCTL`: VFIO's ioctls are `_IO()` numbers whose argument is a plain value (an extension or
 * IOMMU type) or a pointer to a struct that carries its own size (`argsz`).
 */
import type { StructSpec } from '../../events/spec-types.ts';
import type { EventArgs, Fields, Value } from '../../events/types.ts';
import { big } from '../model/command.ts';

/**
 * What a container ioctl gets: its argument as a number (the extension or IOMMU type of the
 * value ioctls) and the struct it points at (`null`: a NULL pointer, whose read faults).
 * `trailing` holds the bytes past the struct (a `struct vfio_bitmap` after an unmap).
 */
export interface ContainerArg {
  readonly value: bigint;
  readonly struct: Fields | null;
  readonly trailing: Uint8Array;
}

const NOTHING = new Uint8Array(0);

/** A named event's argument: `arg` of a value ioctl, or the struct (`args: null` is NULL). */
export function namedArg(args: EventArgs | null): ContainerArg {
  return { value: args === null ? 0n : big(args.fields, 'arg'), struct: args?.fields ?? null, trailing: args?.trailing ?? NOTHING };
}

/**
 * A raw `IOCTL`'s argument: `arg` is the pointer itself, and it points at zeroed memory unless
 * NULL. Without `arg` the pointer is some user address, which no extension or IOMMU type
 * number equals, so the value ioctls answer it as they answer 0.
 */
export function rawArg(args: Fields): ContainerArg {
  const arg = args['arg'];
  return { value: typeof arg === 'bigint' ? arg : 0n, struct: arg === null ? null : {}, trailing: NOTHING };
}

/**
 * A raw `IOCTL`'s argument as a named op reads it: the zeroed memory it points at (every field
 * 0, `argsz` 0, an empty string), or NULL.
 */
export function rawArgs(args: Fields): EventArgs | null {
  return args['arg'] === null ? null : { size: 0, fields: {}, trailing: NOTHING };
}

/** The value of a struct field, a member of a nested group (`bitmap.pgsize`) included. */
export function fieldValue(fields: Fields, name: string): Value | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return fields[name];
  const group = fields[name.slice(0, dot)];
  return typeof group === 'object' && group !== null && !Array.isArray(group) ? (group as Fields)[name.slice(dot + 1)] : undefined;
}

/**
 * The argument of a named op as another driver reads the same ioctl number: the bytes the op's
 * struct `from` wrote, read through struct `to`, field by field where offset and type agree
 * (the SPAPR TCE driver reuses type1's numbers: GET_INFO is SPAPR_TCE_GET_INFO, DIRTY_PAGES is
 * SPAPR_REGISTER_MEMORY). A field `to` has nowhere in `from` reads as 0.
 */
export function readAs(arg: ContainerArg, from: StructSpec, to: StructSpec): ContainerArg {
  if (from === to || arg.struct === null) return arg;
  const given = arg.struct;
  const out: { [key: string]: Value } = {};
  for (const field of to.fields) {
    const source = from.fields.find((f) => f.offset === field.offset && f.type === field.type);
    const value = source === undefined ? undefined : fieldValue(given, source.name);
    if (value === undefined) continue;
    const dot = field.name.indexOf('.');
    if (dot < 0) {
      out[field.name] = value;
      continue;
    }
    const group = field.name.slice(0, dot);
    out[group] = { ...((out[group] ?? {}) as Fields), [field.name.slice(dot + 1)]: value };
  }
  return { ...arg, struct: out };
}
