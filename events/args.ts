/**
 * An event's `args` and `expect.out`, walked key by key along the op's plan: every number
 * becomes a bigint of its C type, names become values, and a struct op gets every field of its
 * struct (omitted ones 0, NULL for pointers, a count beside an inline array its length).
 */
import { FieldError, mapItems, recordOf, rethrowUnder, show, under } from './field-error.ts';
import { parseEnum, parseFlags, parseKernelNumber } from './numbers.ts';
import { DATA_KEY, TRAILING_KEY, type Group, type OpPlan, type RecordPlan, recordPlan } from './op-plan.ts';
import type { EnvArgSpec, EventArgs, FieldSpec, Fields, Value } from './types.ts';
import { parseBytes, parseOpaque, parseRecords } from './values.ts';

type MutableFields = { [key: string]: Value };

/** The parsed `trailing` when every byte past the struct is zero. */
export const NO_TRAILING: Uint8Array = new Uint8Array(0);

/** One struct member's value. */
function parseField(field: FieldSpec, raw: unknown): Value {
  const pointer = field.pointer;
  if (pointer !== undefined) {
    if (raw === null) return null;
    if (pointer.kind === 'array' && Array.isArray(raw)) {
      const element = recordPlan(pointer.element);
      return mapItems(raw, (item) => parseRecord(element, item, true));
    }
    const address = parseKernelNumber(raw, 'u64');
    return address === 0n ? null : address;
  }
  const names = field.names;
  if (names === undefined) return parseKernelNumber(raw, field.type, field.count);
  return names.kind === 'flags' ? parseFlags(raw, field.type, names.family) : parseEnum(raw, field.type, names.family);
}

/** A nested record of `group`'s members; `fill` gives absent members their zero. */
function parseGroup(group: Group, raw: unknown, fill: boolean): Value {
  const given = recordOf(raw, `a record of ${[...group.members.keys()].join(', ')}`);
  const out: MutableFields = {};
  for (const key of Object.keys(given)) {
    const field = group.members.get(key);
    if (field === undefined) throw new FieldError(key, `not a member of ${group.name}`);
    try {
      out[key] = parseField(field, given[key]);
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  if (fill) for (const [key, field] of group.members) if (!(key in out)) out[key] = zero(field);
  return out;
}

const zero = (field: FieldSpec): Value => (field.pointer === undefined ? 0n : null);

/** A struct as a record (an inline array's element); `fill` gives absent fields their zero. */
function parseRecord(plan: RecordPlan, raw: unknown, fill: boolean): Fields {
  const given = recordOf(raw, `a record of struct ${plan.struct.name}`);
  const out: MutableFields = {};
  for (const key of Object.keys(given)) {
    const entry = plan.keys.get(key);
    if (entry === undefined) throw new FieldError(key, `not a field of struct ${plan.struct.name}`);
    try {
      out[key] = entry.kind === 'group' ? parseGroup(entry, given[key], fill) : parseField(entry.field, given[key]);
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  if (fill) fillZeros(plan, out);
  return out;
}

function fillZeros(plan: RecordPlan, out: MutableFields): void {
  for (const [key, entry] of plan.keys) {
    if (key in out) continue;
    out[key] = entry.kind === 'group' ? parseGroup(entry, {}, true) : zero(entry.field);
  }
}

/** A plain argument of this format's own (`fd`, `addr`, `caps`). */
export function parseArg(spec: EnvArgSpec, raw: unknown): Value {
  if (raw === null && spec.nullable === true) return null;
  switch (spec.type) {
    case 'u64':
    case 'u32':
    case 's32':
      return parseKernelNumber(raw, spec.type);
    case 'bool':
      if (typeof raw !== 'boolean') throw new FieldError('', `${show(raw)} is not true or false`);
      return raw;
    case 'string':
      if (typeof raw !== 'string') throw new FieldError('', `${show(raw)} is not a string`);
      return allowedName(spec, raw);
    case 'strings':
      if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of strings`);
      return mapItems(raw, (item) => {
        if (typeof item !== 'string') throw new FieldError('', `${show(item)} is not a string`);
        return allowedName(spec, item);
      });
    case 'records':
      return parseRecords(raw);
    case 'flags':
      return parseFlags(raw, 'u64', familyOf(spec));
    case 'enum':
      return parseEnum(raw, 'u64', familyOf(spec));
    case 'rlimit':
      return raw === 'unlimited' ? null : parseKernelNumber(raw, 'u64');
  }
}

export function familyOf(spec: EnvArgSpec): string {
  if (spec.family === undefined) throw new Error(`${spec.name} has no name family`);
  return spec.family;
}

function allowedName(spec: EnvArgSpec, name: string): string {
  if (spec.allowed !== undefined && !spec.allowed.includes(name)) {
    throw new FieldError('', `${show(name)} is not one of ${spec.allowed.join(', ')}`);
  }
  return name;
}

/** An event's `args` (the object, after `null` and omission are handled by the caller). */
export function parseArgs(plan: OpPlan, raw: unknown): EventArgs {
  const given = recordOf(raw, 'an object or null');
  const out: MutableFields = {};
  let trailing: unknown;
  for (const key of Object.keys(given)) {
    const entry = plan.inputs.get(key);
    if (entry === undefined) throw new FieldError(key, notAKey(plan));
    try {
      const value = given[key];
      switch (entry.kind) {
        case 'field':
          out[key] = parseField(entry.field, value);
          break;
        case 'group':
          out[key] = parseGroup(entry, value, true);
          break;
        case 'data':
          out[key] = parseOpaque(value);
          break;
        case 'arg':
          out[key] = parseArg(entry.arg, value);
          break;
        case 'trailing':
          trailing = value;
          break;
      }
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  const record = plan.record;
  if (record === null) return { size: 0, fields: out, trailing: NO_TRAILING };

  const pointer = plan.dataPointer;
  if (pointer !== null && DATA_KEY in out && given[pointer.name] !== undefined) {
    throw new FieldError(DATA_KEY, `inline data and ${pointer.name} both given: give one`);
  }
  const struct = record.struct;
  // The size field's default is sizeof, not 0: an omitted size is a full-size struct.
  if (struct.sizeField !== null && !(struct.sizeField in out)) out[struct.sizeField] = BigInt(struct.size);
  for (const { count, array } of plan.counts) {
    const items = out[array];
    if (!(count in out) && Array.isArray(items)) out[count] = BigInt(items.length);
  }
  fillZeros(record, out);
  const size = struct.sizeField === null ? struct.size : Number(out[struct.sizeField]);
  const bytes = trailing === undefined ? NO_TRAILING : trailingBytes(trailing, size, struct.size);
  return { size, fields: out, trailing: bytes };
}

function trailingBytes(raw: unknown, size: number, sizeof: number): Uint8Array {
  const bytes = under(TRAILING_KEY, () => parseBytes(raw));
  const expected = Math.max(0, size - sizeof);
  if (bytes.length !== expected) {
    throw new FieldError(
      TRAILING_KEY,
      `${bytes.length} byte(s), but size ${size} leaves ${expected} after the ${sizeof}-byte struct`,
    );
  }
  return bytes.some((b) => b !== 0) ? bytes : NO_TRAILING;
}

const notAKey = (plan: OpPlan): string =>
  plan.record === null
    ? `not an argument of ${plan.spec.op}`
    : `not a field of struct ${plan.record.struct.name}`;

/** An event's `expect.out`: only the outputs given, each parsed by its type. */
export function parseOut(plan: OpPlan, raw: unknown): Fields {
  const given = recordOf(raw, 'an object');
  const out: MutableFields = {};
  for (const key of Object.keys(given)) {
    const entry = plan.outputs.get(key);
    if (entry === undefined) throw new FieldError(key, `not an output of ${plan.spec.op}`);
    try {
      const value = given[key];
      switch (entry.kind) {
        case 'field':
          out[key] = parseField(entry.field, value);
          break;
        case 'group':
          out[key] = parseGroup(entry, value, false);
          break;
        case 'buffer':
          out[key] = bufferContents(entry.field, value);
          break;
        case 'data':
          out[key] = parseOpaque(value);
          break;
        case 'arg':
          out[key] = parseArg(entry.arg, value);
          break;
      }
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  return out;
}

/** What the kernel wrote into an output buffer: its element records, or opaque contents. */
function bufferContents(field: FieldSpec, raw: unknown): Value {
  const element = field.pointer?.kind === 'buffer' ? field.pointer.element : undefined;
  if (element === undefined) return parseOpaque(raw);
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of struct ${element.name}`);
  const plan = recordPlan(element);
  return mapItems(raw, (item) => parseRecord(plan, item, false));
}

