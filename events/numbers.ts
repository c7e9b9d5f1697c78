/**
 * Kernel numbers as a trace writes them (trace-format.md, "Numbers and names"): a JSON number
 * up to 2^53 - 1, a decimal or `0x` hex string, or `"U64_MAX"`; flags also as an array of names,
 * enums also as one name. Everything comes out as a bigint checked against its C type.
 */
import { FieldError } from './field-error.ts';
import { show } from './quote.ts';
import { NAME_FAMILIES } from './names.ts';
import type { ScalarType } from './spec-types.ts';

export const U64_MAX = (1n << 64n) - 1n;

/** The values a number may take, and how a message names them: `u32 (0 to 2^32 - 1)`. */
export interface IntegerRange {
  readonly min: bigint;
  readonly max: bigint;
  /** `min < 0n`, kept apart: a bigint comparison costs a call, and a number is read often. */
  readonly signed: boolean;
  readonly label: string;
}

const BITS: Readonly<Record<ScalarType, number>> = { u8: 8, u16: 16, u32: 32, s32: 32, u64: 64 };

function makeRange(type: ScalarType, count: number): IntegerRange {
  const name = count === 1 ? type : `${type}[${count}]`;
  if (type === 's32') return { min: -(1n << 31n), max: (1n << 31n) - 1n, signed: true, label: `${name} (-2^31 to 2^31 - 1)` };
  const bits = BITS[type] * count;
  return { min: 0n, max: (1n << BigInt(bits)) - 1n, signed: false, label: `${name} (0 to 2^${bits} - 1)` };
}

const SCALAR_RANGES: Readonly<Record<ScalarType, IntegerRange>> = {
  u8: makeRange('u8', 1),
  u16: makeRange('u16', 1),
  u32: makeRange('u32', 1),
  s32: makeRange('s32', 1),
  u64: makeRange('u64', 1),
};

const arrayRanges = new Map<string, IntegerRange>();

/** The range of C type `type`, or of a `u8 x[count]` style array read as one integer. */
function rangeOf(type: ScalarType, count: number): IntegerRange {
  if (count === 1) return SCALAR_RANGES[type];
  const key = `${type}[${count}]`;
  let range = arrayRanges.get(key);
  if (range === undefined) {
    range = makeRange(type, count);
    arrayRanges.set(key, range);
  }
  return range;
}

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
export const parseKernelNumber = (raw: unknown, type: ScalarType, count = 1): bigint =>
  parseInteger(raw, rangeOf(type, count));

/** `raw` as an integer of `range`: a JSON number, or a string spelled as `spelledNumber` reads it. */
export function parseInteger(raw: unknown, range: IntegerRange): bigint {
  let value: bigint | undefined;
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw)) {
      value = BigInt(raw);
    } else if (Number.isFinite(raw) && !Number.isInteger(raw)) {
      throw new FieldError('', `${show(raw)} is not an integer`);
    } else if (Number.isFinite(raw) && raw >= Number(range.min) && raw <= Number(range.max)) {
      // JSON.parse has rounded it (past 2^53, doubles are that far apart): a string keeps every digit.
      throw new FieldError('', `${show(raw)} is beyond 2^53 - 1: write it as a string`);
    } else {
      // Past the range, or past the range of a double (JSON.parse makes 1e400 Infinity).
      throw outOfRange(raw, range);
    }
  } else if (typeof raw === 'string') {
    value = spelledNumber(raw, range.signed);
  }
  if (value === undefined) throw new FieldError('', `${show(raw)} is not a number`);
  return inRange(value, range, raw);
}

function inRange(value: bigint, range: IntegerRange, raw: unknown): bigint {
  if (value >= range.min && value <= range.max) return value;
  throw outOfRange(raw, range);
}

const outOfRange = (raw: unknown, range: IntegerRange): FieldError =>
  new FieldError('', `${show(raw)} is out of range for ${range.label}`);

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
  return inRange(value, rangeOf(type, 1), raw);
}

/** An enum value: a number, or one name of `family`. */
export function parseEnum(raw: unknown, type: ScalarType, family: string): bigint {
  if (typeof raw !== 'string') return parseKernelNumber(raw, type);
  const range = rangeOf(type, 1);
  const value = familyOf(family).get(raw) ?? spelledNumber(raw, range.signed);
  if (value === undefined) throw new FieldError('', `${show(raw)} is neither a number nor a name of ${family}`);
  return inRange(value, range, raw);
}
