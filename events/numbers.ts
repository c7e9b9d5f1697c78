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

/** The string spellings as patterns, for the JSON Schema; `spelledNumber` reads the same ones. */
export const DECIMAL = /^[0-9]+$/;
export const NEGATIVE = /^-[0-9]+$/;
export const HEX = /^0x[0-9a-fA-F]+$/;

/**
 * `text` read as a number when it is spelled as one: decimal, `0x` hex, `"U64_MAX"`, or, when
 * `signed`, `-` and decimal digits; undefined when it is not. One pass over the characters both
 * checks the spelling and reads the value. The range is the caller's to check.
 */
export function spelledNumber(text: string, signed: boolean): bigint | undefined {
  if (text === 'U64_MAX') return U64_MAX;
  if (text.length > 2 && text.charCodeAt(0) === 0x30 && text.charCodeAt(1) === 0x78) return digits(text, 2, 16, false);
  if (signed && text.charCodeAt(0) === 0x2d) return digits(text, 1, 10, true);
  return digits(text, 0, 10, false);
}

/** The digits of `text` from `start` (at least one) in `base`, negated when `negative`. */
function digits(text: string, start: number, base: 10 | 16, negative: boolean): bigint | undefined {
  if (start === text.length) return undefined;
  let value = 0;
  for (let i = start; i < text.length; i++) {
    const digit = digitOf(text.charCodeAt(i));
    if (digit >= base) return undefined;
    value = value * base + digit;
  }
  // Exact below 2^53; beyond, `value` has lost bits, and BigInt reads the digits exactly.
  if (Number.isSafeInteger(value)) return BigInt(negative ? -value : value);
  return BigInt(text);
}

/** A character's value as a hex digit; 16 for anything else. */
function digitOf(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : 16;
}

/**
 * `raw` as a value of `type`; `count` > 1 is a `u8 x[count]` style array read as one
 * little-endian integer. Only `s32` takes negative values.
 */
export function parseKernelNumber(raw: unknown, type: ScalarType, count = 1): bigint {
  let value: bigint | undefined;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new FieldError('', `${show(raw)} is not an integer`);
    // JSON numbers beyond 2^53 have already been rounded by the time they reach us.
    if (!Number.isSafeInteger(raw)) throw new FieldError('', `${show(raw)} is beyond 2^53 - 1: write it as a string`);
    value = BigInt(raw);
  } else if (typeof raw === 'string') {
    value = spelledNumber(raw, type === 's32');
  }
  if (value === undefined) throw new FieldError('', `${show(raw)} is not a number`);
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
  if (typeof raw !== 'string') return parseKernelNumber(raw, type);
  const value = familyOf(family).get(raw) ?? spelledNumber(raw, type === 's32');
  if (value === undefined) throw new FieldError('', `${show(raw)} is neither a number nor a name of ${family}`);
  return inRange(value, type, 1, raw);
}
