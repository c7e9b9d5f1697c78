/**
 * Kernel numbers as a trace writes them (trace-format.md, "Numbers and names"): a JSON number
 * up to 2^53 - 1, a decimal or `0x` hex string, or `"U64_MAX"`; flags also as an array of names,
 * enums also as one name. Everything comes out as a bigint checked against its C type.
 */
import { FieldError, show } from './field-error.ts';
import { NAME_FAMILIES } from './names.ts';
import type { ScalarType } from './spec-types.ts';

export const U64_MAX = (1n << 64n) - 1n;

const BITS: Readonly<Record<ScalarType, bigint>> = { u8: 8n, u16: 16n, u32: 32n, s32: 32n, u64: 64n };
const MAX: Readonly<Record<ScalarType, bigint>> = {
  u8: 0xffn,
  u16: 0xffffn,
  u32: 0xffffffffn,
  s32: 0x7fffffffn,
  u64: U64_MAX,
};
const S32_MIN = -(1n << 31n);

export const DECIMAL = /^[0-9]+$/;
export const NEGATIVE = /^-[0-9]+$/;
export const HEX = /^0x[0-9a-fA-F]+$/;

/**
 * `raw` as a value of `type`; `count` > 1 is a `u8 x[count]` style array read as one
 * little-endian integer. Only `s32` takes negative values.
 */
export function parseKernelNumber(raw: unknown, type: ScalarType, count = 1): bigint {
  let value: bigint;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new FieldError('', `${show(raw)} is not an integer`);
    // JSON numbers beyond 2^53 have already been rounded by the time they reach us.
    if (!Number.isSafeInteger(raw)) throw new FieldError('', `${show(raw)} is beyond 2^53 - 1: write it as a string`);
    value = BigInt(raw);
  } else if (typeof raw === 'string') {
    if (raw === 'U64_MAX') value = U64_MAX;
    else if (HEX.test(raw) || DECIMAL.test(raw) || (type === 's32' && NEGATIVE.test(raw))) value = BigInt(raw);
    else throw new FieldError('', `${show(raw)} is not a number`);
  } else {
    throw new FieldError('', `${show(raw)} is not a number`);
  }
  return inRange(value, type, count, raw);
}

function inRange(value: bigint, type: ScalarType, count: number, raw: unknown): bigint {
  const max = count === 1 ? MAX[type] : (1n << (BITS[type] * BigInt(count))) - 1n;
  if (value <= max && value >= (type === 's32' ? S32_MIN : 0n)) return value;
  if (value < 0n && type !== 's32') {
    throw new FieldError('', `${show(raw)} is negative, but ${typeName(type, count)} is unsigned`);
  }
  throw new FieldError('', `${show(raw)} is out of range for ${typeName(type, count)}`);
}

const typeName = (type: ScalarType, count: number): string => (count === 1 ? type : `${type}[${count}]`);

function familyOf(name: string): ReadonlyMap<string, bigint> {
  const family = NAME_FAMILIES.get(name);
  if (family === undefined) throw new Error(`no name family ${name}`);
  return family;
}

/** A flags value: a number, or an array of names of `family` OR-ed together. */
export function parseFlags(raw: unknown, type: ScalarType, family: string): bigint {
  if (!Array.isArray(raw)) return parseKernelNumber(raw, type);
  const names = familyOf(family);
  let value = 0n;
  raw.forEach((name: unknown, i) => {
    const bit = typeof name === 'string' ? names.get(name) : undefined;
    if (bit === undefined) throw new FieldError(`[${i}]`, `${show(name)} is not a flag of ${family}`);
    value |= bit;
  });
  return inRange(value, type, 1, raw);
}

/** An enum value: a number, or one name of `family`. */
export function parseEnum(raw: unknown, type: ScalarType, family: string): bigint {
  if (typeof raw === 'string') {
    const value = familyOf(family).get(raw);
    if (value !== undefined) return inRange(value, type, 1, raw);
    if (!HEX.test(raw) && !DECIMAL.test(raw) && raw !== 'U64_MAX' && !(type === 's32' && NEGATIVE.test(raw))) {
      throw new FieldError('', `${show(raw)} is neither a number nor a name of ${family}`);
    }
  }
  return parseKernelNumber(raw, type);
}
