/**
 * One codec for each kind of key an op's `args` and `expect.out` hold (op-plan.ts): how the
 * reader reads it, how the writer writes it and how the JSON Schema describes it, side by side,
 * so that the three cannot drift apart. The table is typed over the kinds: a kind added to the
 * plan without its codec does not compile.
 *
 * A kind reads and writes differently in `args` and in `expect.out`: in `args`, a group gets its
 * absent members' zeros and what equals its default is left out when written; `expect.out` holds
 * only what was observed. A kind that only one side has (`__trailing`, an output buffer) has only
 * that side's functions.
 *
 * The schema functions build from a `SchemaKit` that schema.ts makes with zod, not from zod
 * itself: the reader loads this module, and loading zod would add a tenth of a second or more to
 * every command that reads a trace. A kit rather than the zod namespace, because a key's schema
 * is made of the shared `$defs` entries schema.ts registers (numbers, name families, pointers,
 * memory), which zod alone does not know. Only zod's types are imported here; they compile away.
 */
import type { ZodType } from 'zod';
import { FieldError, mapItems } from './field-error.ts';
import { show } from './quote.ts';
import { type Group, type InputKey, type OpPlan, type OutputKey, recordPlan } from './op-plan.ts';
import type { EnvArgSpec, FieldSpec, StructSpec } from './spec-types.ts';
import type { EventArgs, Fields, Value } from './types.ts';
import { type MutableFields, parseArg, parseField, parseGroup, parseRecord } from './value-reader.ts';
import { type Json, formatArg, formatField, formatGroup, formatLoose, formatRecord } from './value-writer.ts';
import { parseOpaque } from './values.ts';

type Key = InputKey | OutputKey;
type Kind = Key['kind'];
type InputKind = InputKey['kind'];
type OutputKind = OutputKey['kind'];
type KeyOf<K extends Kind> = Extract<Key, { readonly kind: K }>;

/** What reading `args` gathers before the op's defaults are filled in. */
export interface ArgsDraft {
  readonly fields: MutableFields;
  /** `__trailing` as given: it can be checked only against the final `size`. */
  trailing: unknown;
}

/** The schemas keys are built from; schema.ts makes them with zod. */
export interface SchemaKit {
  /** A struct member's value. */
  field(field: FieldSpec): ZodType;
  /** A group as a nested record, every member optional. */
  group(group: Group): ZodType;
  /** An argument of the format's own. */
  arg(spec: EnvArgSpec): ZodType;
  /** An array of records of `struct`. */
  records(struct: StructSpec): ZodType;
  /** Memory contents: a driver struct's fields, an array of them, or hex bytes. */
  readonly memory: ZodType;
  /** Hex bytes in memory order. */
  readonly bytes: ZodType;
}

interface InputCodec<T> {
  /** Reads `args[name]` into `draft`. */
  readonly parseInput: (key: T, raw: unknown, name: string, draft: ArgsDraft) => void;
  /** `args[name]` as written; undefined when reading the line without it gives the same value. */
  readonly formatInput: (key: T, name: string, args: EventArgs, plan: OpPlan) => Json | undefined;
}

interface OutputCodec<T> {
  readonly parseOutput: (key: T, raw: unknown) => Value;
  readonly formatOutput: (key: T, value: Value) => Json;
}

interface SchemaCodec<T> {
  /** The same in `args` and in `expect.out`. */
  readonly schema: (key: T, kit: SchemaKit) => ZodType;
}

type Codec<K extends Kind> = SchemaCodec<KeyOf<K>> &
  (K extends InputKind ? InputCodec<KeyOf<K>> : unknown) &
  (K extends OutputKind ? OutputCodec<KeyOf<K>> : unknown);

/** The default of a count field: the length of the inline array beside it, if any. */
function countDefault(plan: OpPlan, fields: Fields, name: string): bigint {
  const count = plan.counts.find((c) => c.count === name);
  const items = count === undefined ? undefined : fields[count.array];
  return Array.isArray(items) ? BigInt(items.length) : 0n;
}

/** The element struct of an output buffer that has one. */
function bufferElement(field: FieldSpec): StructSpec | undefined {
  const pointer = field.pointer;
  return pointer?.kind === 'buffer' ? pointer.element : undefined;
}

const CODECS: { readonly [K in Kind]: Codec<K> } = {
  field: {
    parseInput: (key, raw, name, draft) => {
      draft.fields[name] = parseField(key.field, raw);
    },
    formatInput: (key, name, args, plan) => {
      const struct = plan.record?.struct;
      if (name === struct?.sizeField) return args.size === struct.size ? undefined : args.size;
      const value = args.fields[name];
      // Left out: a zero, a NULL pointer, or a count equal to its array's length.
      if (value === undefined || value === null || value === countDefault(plan, args.fields, name)) return undefined;
      return formatField(key.field, value);
    },
    parseOutput: (key, raw) => parseField(key.field, raw),
    formatOutput: (key, value) => formatField(key.field, value),
    schema: (key, kit) => kit.field(key.field),
  },
  group: {
    parseInput: (key, raw, name, draft) => {
      draft.fields[name] = parseGroup(key, raw, true);
    },
    formatInput: (key, name, args) => {
      const value = args.fields[name];
      const members = value === undefined ? {} : formatGroup(key, value, true);
      return Object.keys(members).length > 0 ? members : undefined;
    },
    parseOutput: (key, raw) => parseGroup(key, raw, false),
    formatOutput: (key, value) => formatGroup(key, value, false),
    schema: (key, kit) => kit.group(key),
  },
  data: {
    parseInput: (_key, raw, name, draft) => {
      draft.fields[name] = parseOpaque(raw);
    },
    formatInput: (_key, name, args) => {
      const value = args.fields[name];
      return value === undefined ? undefined : formatLoose(value);
    },
    parseOutput: (_key, raw) => parseOpaque(raw),
    formatOutput: (_key, value) => formatLoose(value),
    schema: (_key, kit) => kit.memory,
  },
  trailing: {
    parseInput: (_key, raw, _name, draft) => {
      draft.trailing = raw;
    },
    formatInput: (_key, _name, args) =>
      args.trailing.length > 0 ? `0x${Buffer.from(args.trailing).toString('hex')}` : undefined,
    schema: (_key, kit) => kit.bytes,
  },
  arg: {
    parseInput: (key, raw, name, draft) => {
      draft.fields[name] = parseArg(key.arg, raw);
    },
    formatInput: (key, name, args) => {
      const value = args.fields[name];
      return value === undefined ? undefined : formatArg(key.arg, value);
    },
    parseOutput: (key, raw) => parseArg(key.arg, raw),
    formatOutput: (key, value) => formatArg(key.arg, value),
    schema: (key, kit) => kit.arg(key.arg),
  },
  buffer: {
    // What the kernel wrote there: its element records, or opaque contents.
    parseOutput: (key, raw) => {
      const element = bufferElement(key.field);
      if (element === undefined) return parseOpaque(raw);
      if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of struct ${element.name}`);
      const plan = recordPlan(element);
      return mapItems(raw, (item) => parseRecord(plan, item, false));
    },
    formatOutput: (key, value) => {
      const element = bufferElement(key.field);
      return element !== undefined && Array.isArray(value)
        ? value.map((item: Value) => formatRecord(recordPlan(element), item as Fields))
        : formatLoose(value);
    },
    schema: (key, kit) => {
      const element = bufferElement(key.field);
      return element === undefined ? kit.memory : kit.records(element);
    },
  },
};

const INPUTS: { readonly [K in InputKind]: InputCodec<KeyOf<K>> } = CODECS;
const OUTPUTS: { readonly [K in OutputKind]: OutputCodec<KeyOf<K>> } = CODECS;

/** How a key of `kind` is read and written in `args`. */
export const inputCodec = <K extends InputKind>(kind: K): InputCodec<KeyOf<K>> => INPUTS[kind];

/** How a key of `kind` is read and written in `expect.out`. */
export const outputCodec = <K extends OutputKind>(kind: K): OutputCodec<KeyOf<K>> => OUTPUTS[kind];

/** How a key of `kind` is described in the JSON Schema. */
export const schemaCodec = <K extends Kind>(kind: K): SchemaCodec<KeyOf<K>> => CODECS[kind];
