/**
 * One value of an event as its declared type reads it: a struct member (an inline array's
 * records and a group's members included), or an argument of the format's own. Every number
 * becomes a bigint of its C type and names become values.
 */
import { FieldError, mapItems, recordOf, rethrowUnder } from './field-error.ts';
import { show } from './quote.ts';
import { parseEnum, parseFlags, parseKernelNumber } from './numbers.ts';
import { type Group, type RecordPlan, recordPlan } from './op-plan.ts';
import type { EnvArgSpec, FieldSpec, StructSpec } from './spec-types.ts';
import type { Fields, Value } from './types.ts';
import { parseRecords } from './values.ts';

export type MutableFields = { [key: string]: Value };

/** One struct member's value. */
export function parseField(field: FieldSpec, raw: unknown): Value {
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
export function parseGroup(group: Group, raw: unknown, fill: boolean): Value {
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
export function parseRecord(plan: RecordPlan, raw: unknown, fill: boolean): Fields {
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

/** A key of a record with its zero; a group's zero is made anew each time it is needed. */
interface Slot {
  readonly key: string;
  readonly zero: Value;
  readonly group: Group | null;
}

const slotsOfRecord = new WeakMap<RecordPlan, readonly Slot[]>();

/** The keys of `plan` in declaration order, looked up once per struct. */
function slotsOf(plan: RecordPlan): readonly Slot[] {
  let slots = slotsOfRecord.get(plan);
  if (slots === undefined) {
    slots = [...plan.keys].map(([key, entry]) =>
      entry.kind === 'group' ? { key, zero: null, group: entry } : { key, zero: zero(entry.field), group: null },
    );
    slotsOfRecord.set(plan, slots);
  }
  return slots;
}

/** Gives every key of `plan` that `out` lacks its zero. */
export function fillZeros(plan: RecordPlan, out: MutableFields): void {
  for (const { key, zero: z, group } of slotsOf(plan)) {
    if (!(key in out)) out[key] = group === null ? z : parseGroup(group, {}, true);
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
      return spec.element === undefined ? parseRecords(raw) : parseElements(spec.element, raw);
    case 'flags':
      return parseFlags(raw, 'u64', familyOf(spec));
    case 'enum':
      return parseEnum(raw, 'u64', familyOf(spec));
    case 'rlimit':
      return raw === 'unlimited' ? null : parseKernelNumber(raw, 'u64');
  }
}

/** An array of records of one struct, each member read by its type, absent members 0. */
function parseElements(element: StructSpec, raw: unknown): Value {
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of struct ${element.name}`);
  const plan = recordPlan(element);
  return mapItems(raw, (item) => parseRecord(plan, item, true));
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
