/**
 * An event's `args` and `expect.out`, walked key by key along the op's plan: every number
 * becomes a bigint of its C type, names become values, and a struct op gets every field of its
 * struct (omitted ones 0, NULL for pointers, a count beside an inline array its length).
 */
import { FieldError, recordOf, rethrowUnder, under } from './field-error.ts';
import { type ArgsDraft, inputCodec, outputCodec } from './key-codecs.ts';
import { DATA_KEY, type OpPlan, TRAILING_KEY } from './op-plan.ts';
import type { EventArgs, Fields } from './types.ts';
import { type MutableFields, fillZeros } from './value-reader.ts';
import { parseBytes } from './values.ts';

/** The parsed `trailing` when every byte past the struct is zero. */
export const NO_TRAILING: Uint8Array = new Uint8Array(0);

/** Reads one key of `args` into the draft. */
type KeyReader = (raw: unknown, draft: ArgsDraft) => void;

const readersOfPlan = new WeakMap<OpPlan, ReadonlyMap<string, KeyReader>>();

/** How each key an op's `args` may hold is read, found once per op rather than once per key read. */
function readersOf(plan: OpPlan): ReadonlyMap<string, KeyReader> {
  let readers = readersOfPlan.get(plan);
  if (readers === undefined) {
    readers = new Map(
      [...plan.inputs].map(([name, key]): [string, KeyReader] => {
        const codec = inputCodec(key.kind);
        return [name, (raw, draft) => codec.parseInput(key, raw, name, draft)];
      }),
    );
    readersOfPlan.set(plan, readers);
  }
  return readers;
}

/** An event's `args` (the object, after `null` and omission are handled by the caller). */
export function parseArgs(plan: OpPlan, raw: unknown): EventArgs {
  const given = recordOf(raw, 'an object or null');
  const draft: ArgsDraft = { fields: {}, trailing: undefined };
  const readers = readersOf(plan);
  for (const key of Object.keys(given)) {
    const read = readers.get(key);
    if (read === undefined) throw new FieldError(key, notAKey(plan));
    try {
      read(given[key], draft);
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  const { fields: out, trailing } = draft;
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
      out[key] = outputCodec(entry.kind).parseOutput(entry, given[key]);
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  return out;
}
