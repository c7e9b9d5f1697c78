/**
 * Values whose layout the format leaves open: typed driver data (`data`), what the kernel wrote
 * into an output buffer, fault and event queue records, device properties and module
 * parameters. They are kept as given, except that every number (a JSON number, or a string
 * the format reads as a number) becomes a bigint.
 */
import { FieldError, mapItems, recordOf, rethrowUnder } from './field-error.ts';
import { show } from './quote.ts';
import { spelledNumber } from './numbers.ts';
import type { Value } from './types.ts';

export const BYTES = /^0x(?:[0-9a-fA-F]{2})*$/;

type MutableRecord = { [key: string]: Value };

/** Sets an own property even for a key like `__proto__`, which plain assignment would not. */
export function setOwn<T>(record: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    record[key] = value;
  }
}

/** Any JSON value with its numbers as bigints. */
export function parseLoose(raw: unknown): Value {
  if (raw === null || typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw)) return BigInt(raw);
    if (Number.isFinite(raw) && !Number.isInteger(raw)) throw new FieldError('', `${show(raw)} is not an integer`);
    throw new FieldError('', `${show(raw)} is out of range for a JSON number (-(2^53 - 1) to 2^53 - 1): write it as a string`);
  }
  if (typeof raw === 'string') return spelledNumber(raw, true) ?? raw;
  if (Array.isArray(raw)) return mapItems(raw, parseLoose);
  if (typeof raw === 'object') {
    const record: MutableRecord = {};
    for (const [key, item] of Object.entries(raw)) {
      try {
        setOwn(record, key, parseLoose(item));
      } catch (e) {
        rethrowUnder(e, key);
      }
    }
    return record;
  }
  throw new FieldError('', `${show(raw)} is not a JSON value`);
}

/**
 * Memory contents: a record of a driver struct's fields, an array of them, or a hex byte
 * string in memory order (kept as the string).
 */
export function parseOpaque(raw: unknown): Value {
  if (typeof raw === 'string') {
    if (!BYTES.test(raw)) throw new FieldError('', `${show(raw)} is not a hex byte string (0x and two digits a byte)`);
    return raw;
  }
  if (raw === null || typeof raw !== 'object') {
    throw new FieldError('', `${show(raw)} is not an object, an array or a hex byte string`);
  }
  return parseLoose(raw);
}

/** Fault or event queue records: an array of records. */
export function parseRecords(raw: unknown): Value {
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of records`);
  return mapItems(raw, (item) => parseLoose(recordOf(item, 'a record')));
}

/** `0x` + two hex digits a byte, in memory order. */
export function parseBytes(raw: unknown): Uint8Array {
  if (typeof raw !== 'string' || !BYTES.test(raw)) {
    throw new FieldError('', `${show(raw)} is not a hex byte string (0x and two digits a byte)`);
  }
  return Uint8Array.from(Buffer.from(raw.slice(2), 'hex'));
}
