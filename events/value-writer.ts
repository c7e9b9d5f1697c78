/**
 * One value of an event as the format writes it: hex strings for addresses, lengths and other
 * u64 values (a zero is `0`), plain numbers for ids, fds, pids and 32-bit values, flags and
 * enums as integers.
 */
import { type Group, type RecordPlan, recordPlan } from './op-plan.ts';
import type { EnvArgSpec, FieldSpec, StructSpec } from './spec-types.ts';
import type { Fields, Value } from './types.ts';
import { setOwn } from './values.ts';

export type Json = null | boolean | number | string | readonly Json[] | { [key: string]: Json };
export type JsonRecord = { [key: string]: Json };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U32_LIMIT = 1n << 32n;

/** A u64 as the format writes addresses and lengths. */
export const hex = (v: bigint): Json => (v === 0n ? 0 : `0x${v.toString(16)}`);

/** A value the format writes as a plain number, as long as JSON can carry it exactly. */
export const plainNumber = (v: bigint): Json => (v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v < 0n ? v.toString() : hex(v));

function bigintOf(value: Value, what: string): bigint {
  if (typeof value !== 'bigint') throw new Error(`${what}: expected a bigint, got ${typeof value}`);
  return value;
}

export function formatField(field: FieldSpec, value: Value): Json {
  if (value === null) return null;
  if (Array.isArray(value) && field.pointer?.kind === 'array') {
    const element = recordPlan(field.pointer.element);
    return value.map((item: Value) => formatRecord(element, item as Fields));
  }
  const v = bigintOf(value, field.name);
  if (field.pointer !== undefined) return hex(v);
  if (field.names === undefined && field.type === 'u64' && field.count === undefined) return hex(v);
  return plainNumber(v);
}

/** A record with the keys it has, each as its field writes it. */
export function formatRecord(plan: RecordPlan, record: Fields): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, value] of Object.entries(record)) {
    const entry = plan.keys.get(key);
    if (entry === undefined) throw new Error(`${key} is not a field of struct ${plan.struct.name}`);
    out[key] = entry.kind === 'group' ? formatGroup(entry, value, false) : formatField(entry.field, value);
  }
  return out;
}

/** A group's members as a nested record; `skipZeros` leaves out the members the reader would fill in. */
export function formatGroup(group: Group, value: Value, skipZeros: boolean): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, member] of Object.entries(value as Fields)) {
    const field = group.members.get(key);
    if (field === undefined) throw new Error(`${key} is not a member of ${group.name}`);
    if (!(skipZeros && (member === 0n || member === null))) out[key] = formatField(field, member);
  }
  return out;
}

/** Values of open layout: small numbers plain, large ones hex, the rest as they are. */
export function formatLoose(value: Value): Json {
  if (typeof value === 'bigint') {
    if (value < 0n) return plainNumber(value);
    return value < U32_LIMIT ? Number(value) : hex(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(formatLoose);
  const out: JsonRecord = {};
  for (const [key, item] of Object.entries(value as Fields)) setOwn(out, key, formatLoose(item));
  return out;
}

export function formatArg(spec: EnvArgSpec, value: Value): Json {
  if (value === null) return spec.type === 'rlimit' ? 'unlimited' : null;
  switch (spec.type) {
    case 'u64':
    case 'rlimit':
      return hex(bigintOf(value, spec.name));
    case 'u32':
    case 's32':
    case 'flags':
    case 'enum':
      return plainNumber(bigintOf(value, spec.name));
    case 'records':
      return spec.element === undefined ? formatLoose(value) : (value as readonly Value[]).map((item) => formatRecord(recordPlan(spec.element as StructSpec), item as Fields));
    default:
      return value as Json;
  }
}
