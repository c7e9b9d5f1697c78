/**
 * The trace format as a JSON Schema (docs/trace-format.schema.json), built from the op, struct,
 * name and errno tables the reader reads against, so that the two cannot drift apart.
 *
 * The schema checks the form of every value and the range of JSON integers. The reader checks
 * more than a schema can say: the range of a number written as a string, `__trailing` against
 * `size`, page sizes, header mappings, pids and device names declared twice, inline `data`
 * given beside its pointer, and the rules of a well-formed line (encoding, nesting, keys given
 * twice).
 */
import { z } from 'zod';
import { ERRNO_NAMES } from './errno.ts';
import { type SchemaKit, schemaCodec } from './key-codecs.ts';
import { NAME_FAMILIES } from './names.ts';
import { DECIMAL, HEX, NEGATIVE } from './numbers.ts';
import { type Group, type InputKey, type OpPlan, type OutputKey, PLANS, TRAILING_KEY, recordPlan } from './op-plan.ts';
import { CAPS_ARG, RLIMIT_MEMLOCK_ARG } from './ops.ts';
import type { EnvArgSpec, FieldSpec, ScalarType, StructSpec } from './spec-types.ts';
import { familyOf } from './value-reader.ts';
import { BYTES } from './values.ts';
import { CURRENT_VERSION, VERSIONS } from './version.ts';
import { VFIO_DRIVERS } from './vfio-env.ts';

interface Meta {
  readonly id?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: 'object';
  /** OpenAPI's discriminator: validators that know it (ajv with `discriminator: true`) check only the one branch. */
  readonly discriminator?: { readonly propertyName: string };
}

/** Schemas with an `id` become `$defs` entries, referred to wherever they are used. */
const registry = z.registry<Meta>();

function named<T extends z.ZodType>(schema: T, meta: Meta): T {
  registry.add(schema, meta);
  return schema;
}

const defs = new Map<string, z.ZodType>();

/** The `$defs` entry `id`, made on first use and shared by every place that uses it. */
function def(id: string, make: () => z.ZodType, description?: string): z.ZodType {
  let schema = defs.get(id);
  if (schema === undefined) {
    schema = named(make(), description === undefined ? { id } : { id, description });
    defs.set(id, schema);
  }
  return schema;
}

/** A regex matching any one of `forms`, each anchored at both ends. */
const anyForm = (...forms: RegExp[]): RegExp =>
  new RegExp(`^(?:${forms.map((f) => f.source.replace(/^\^|\$$/g, '')).join('|')})$`);

const U64_MAX_NAME = /^U64_MAX$/;
const BITS: Readonly<Record<ScalarType, number>> = { u8: 8, u16: 16, u32: 32, s32: 32, u64: 64 };

function integerOf(type: ScalarType, count: number): z.ZodType {
  if (type === 's32') return z.int().min(-(2 ** 31)).max(2 ** 31 - 1);
  return z.int().min(0).max(Math.min(2 ** (BITS[type] * count) - 1, Number.MAX_SAFE_INTEGER));
}

/** A kernel number of `type` (`count` > 1: a `u8 x[count]` read as one integer), in the forms numbers.ts reads. */
function numberOf(type: ScalarType, count = 1): z.ZodType {
  const signed = type === 's32' ? [NEGATIVE] : [];
  const forms = [HEX, DECIMAL, ...signed, ...(type === 'u64' ? [U64_MAX_NAME] : [])];
  const name = count === 1 ? type : `${type}[${count}]`;
  return def(
    count === 1 ? type : `${type}x${count}`,
    () => z.union([integerOf(type, count), z.string().regex(anyForm(...forms))]),
    `${type === 's32' ? 'An' : 'A'} ${name}: a JSON integer, or a string in decimal or 0x hex` +
      (type === 'u64' ? ', or "U64_MAX"' : type === 's32' ? ' (decimal may be negative)' : ''),
  );
}

const familyNames = (family: string): z.ZodType =>
  def(
    `names.${family}`,
    () => {
      const names = [...(NAME_FAMILIES.get(family)?.keys() ?? [])];
      if (names.length === 0) throw new Error(`no name family ${family}`);
      return z.enum(names as [string, ...string[]]);
    },
    `The ${family}* constants, without the prefix`,
  );

/** Flags: a number, or an array of names OR-ed together. */
const flags = (type: ScalarType, family: string) => z.union([numberOf(type), z.array(familyNames(family))]);

/** An enum: a number, or one name. */
const enumOf = (type: ScalarType, family: string) => z.union([numberOf(type), familyNames(family)]);

type Loose = null | boolean | number | string | Loose[] | { [key: string]: Loose };

const LOOSE: z.ZodType<Loose> = named(
  z.lazy(() => z.union([z.null(), z.boolean(), z.int(), z.string(), z.array(LOOSE), z.record(z.string(), LOOSE)])),
  { id: 'loose', description: 'A value of open layout: any JSON value whose numbers are integers up to 2^53 - 1' },
);

const HEX_BYTES = named(z.string().regex(BYTES), {
  id: 'bytes',
  description: 'Bytes in memory order: 0x and two hex digits a byte',
});

const MEMORY = named(z.union([HEX_BYTES, z.array(LOOSE), z.record(z.string(), LOOSE)]), {
  id: 'memory',
  description: "Memory contents: a driver struct's fields, an array of them, or hex bytes",
});

const POINTER = named(z.union([z.null(), numberOf('u64')]), {
  id: 'pointer',
  description: 'A user pointer: an address, or null for NULL',
});

const ERRNO = named(z.enum(['*', ...ERRNO_NAMES]), {
  id: 'errno',
  description: 'An errno name, or "*" for a failure whose errno was not recorded',
});

function fieldSchema(field: FieldSpec): z.ZodType {
  const pointer = field.pointer;
  if (pointer !== undefined) {
    return pointer.kind === 'array' ? z.union([POINTER, z.array(structSchema(pointer.element))]) : POINTER;
  }
  const names = field.names;
  if (names === undefined) return numberOf(field.type, field.count);
  return names.kind === 'flags' ? flags(field.type, names.family) : enumOf(field.type, names.family);
}

/** A strict object whose keys are all optional. */
function keysOf<E>(entries: Iterable<readonly [string, E]>, schema: (entry: E) => z.ZodType) {
  return z.strictObject(Object.fromEntries([...entries].map(([key, entry]) => [key, schema(entry).optional()])));
}

const groupSchema = (group: Group) => keysOf(group.members, fieldSchema);

/** An element of an inline array or of an output buffer. */
const structSchema = (struct: StructSpec): z.ZodType =>
  def(`struct.${struct.name}`, () =>
    keysOf(recordPlan(struct).keys, (key) => (key.kind === 'group' ? groupSchema(key) : fieldSchema(key.field))),
  );

function argSchema(spec: EnvArgSpec): z.ZodType {
  const base = argBase(spec);
  return spec.nullable === true ? z.union([z.null(), base]) : base;
}

function argBase(spec: EnvArgSpec): z.ZodType {
  const string = spec.allowed === undefined ? z.string() : z.enum(spec.allowed as [string, ...string[]]);
  switch (spec.type) {
    case 'u64':
    case 'u32':
    case 's32':
      return numberOf(spec.type);
    case 'bool':
      return z.boolean();
    case 'string':
      return string;
    case 'strings':
      return z.array(string);
    case 'records':
      return spec.element === undefined ? z.array(z.record(z.string(), LOOSE)) : z.array(structSchema(spec.element));
    case 'flags':
      return flags('u64', familyOf(spec));
    case 'enum':
      return enumOf('u64', familyOf(spec));
    case 'rlimit':
      return z.union([z.literal('unlimited'), numberOf('u64')]);
  }
}

/** What the key codecs build their schemas from. */
const KIT: SchemaKit = {
  field: fieldSchema,
  group: groupSchema,
  arg: argSchema,
  records: (struct) => z.array(structSchema(struct)),
  memory: MEMORY,
  bytes: HEX_BYTES,
};

/** The schema of a key of `args` or `expect.out`. */
const keySchema = (entry: InputKey | OutputKey): z.ZodType => schemaCodec(entry.kind).schema(entry, KIT);

const argsSchema = (plan: OpPlan) => keysOf(plan.inputs, keySchema);

const SEQ = named(z.union([z.null(), z.int().min(0), z.string().regex(anyForm(HEX, DECIMAL))]), {
  id: 'seq',
  description: "The event's number in the capture, up to 2^53 - 1, or null",
});

const FAIL_NTH = named(
  z.union([z.int().min(1).max(2 ** 32 - 1), z.string().regex(/^(?:0x0*[1-9a-fA-F][0-9a-fA-F]*|0*[1-9][0-9]*)$/)]),
  { id: 'fail_nth', description: 'The injection point to fail, a u32 counted from 1' },
);

const SOURCE_LINE = named(z.union([z.int().min(1), z.string().regex(/^(?:0x0*[1-9a-fA-F][0-9a-fA-F]*|0*[1-9][0-9]*)$/)]), {
  id: 'source_line',
  description: 'The line of the capture the event was imported from, counted from 1',
});

/** The arguments an event may leave unrecorded: every input but `__trailing`. */
const oneOfInputs = (plan: OpPlan): ReadonlyMap<string, InputKey> =>
  new Map([...plan.inputs].filter(([name]) => name !== TRAILING_KEY));

const inputNames = (plan: OpPlan) => z.enum([...oneOfInputs(plan).keys()] as [string, ...string[]]);

function eventSchema(plan: OpPlan) {
  const outputs = [...plan.outputs.keys()];
  return named(
    z.looseObject({
      op: z.literal(plan.spec.op),
      seq: SEQ.optional(),
      pid: numberOf('u32').optional(),
      fd: numberOf('s32').optional(),
      args: z.union([z.null(), argsSchema(plan)]).optional(),
      expect: z
        .strictObject({ errno: ERRNO.optional(), out: keysOf(plan.outputs, keySchema).optional() })
        .optional(),
      inferred: z
        .union([z.literal(true), z.array(outputs.length === 0 ? z.never() : z.enum(outputs as [string, ...string[]]))])
        .optional(),
      unsure: z.boolean().optional(),
      fail_nth: FAIL_NTH.optional(),
      source_line: SOURCE_LINE.optional(),
      unknown_args: z.union([z.literal(true), z.array(inputNames(plan)).min(1)]).optional(),
      args_one_of: z.partialRecord(inputNames(plan), z.array(LOOSE).min(1)).optional(),
    }),
    { id: `event.${plan.spec.op}` },
  );
}

const [firstPlan, ...otherPlans] = [...PLANS.values()];
if (firstPlan === undefined) throw new Error('the op registry is empty');

/** An event line (trace-format.md, "Event lines"): one object per op, told apart by `op`. */
export const EVENT = named(z.discriminatedUnion('op', [eventSchema(firstPlan), ...otherPlans.map(eventSchema)]), {
  id: 'event',
  description: 'An event line',
  type: 'object',
  discriminator: { propertyName: 'op' },
});

const MMAP = PLANS.get('MMAP');
if (MMAP === undefined) throw new Error('MMAP is missing from the op registry');

/** The header line (trace-format.md, "Header"). */
export const HEADER = named(
  z.looseObject({
    trace: z.literal('iommufd'),
    version: z.literal([...VERSIONS.map(Number), ...VERSIONS]),
    env: z
      .looseObject({
        page_size: numberOf('u64').optional(),
        hugepage_size: numberOf('u64').optional(),
        memory: z.enum(['declared', 'any']).optional(),
        mappings: z.array(argsSchema(MMAP)).optional(),
        processes: z
          .array(
            z.strictObject({
              pid: numberOf('u32').optional(),
              uid: numberOf('u32').optional(),
              rlimit_memlock: argSchema(RLIMIT_MEMLOCK_ARG).optional(),
              caps: argSchema(CAPS_ARG).optional(),
            }),
          )
          .min(1)
          .optional(),
        devices: z.array(z.object({ name: z.string(), kind: z.string() }).catchall(LOOSE)).optional(),
        vfio: z
          .strictObject({
            container: z.enum(['native', 'iommufd']).optional(),
            drivers: z.array(z.enum(VFIO_DRIVERS)).optional(),
          })
          .optional(),
        params: z.record(z.string(), LOOSE).optional(),
        kernel: named(z.unknown(), {
          id: 'kernel',
          description: 'The kernel version the trace was captured on, a string such as "6.4"; a value that is no version is read with a warning',
        }).optional(),
      })
      .optional(),
    params: z.record(z.string(), LOOSE).optional(),
  }),
  { id: 'header', description: 'The header: the first line that is not blank or a comment' },
);

/** Any line of a trace that is not blank or a comment. */
export const TRACE_LINE = named(z.union([HEADER, EVENT]), {
  title: `Trace format ${CURRENT_VERSION}`,
  description:
    'A line of an iommufd-model trace (JSON Lines, docs/trace-format.md): the header (#/$defs/header) on the ' +
    'first line, an event (#/$defs/event) on every later one.',
});

/** The JSON Schema of a trace line, with the header and the events under `$defs`. */
export function traceJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(TRACE_LINE, { metadata: registry, io: 'input', unrepresentable: 'throw' });
}

/** The contents of docs/trace-format.schema.json. */
export const traceJsonSchemaText = (): string => `${JSON.stringify(traceJsonSchema(), null, 2)}\n`;
