/**
 * Raw trace lines as a capture or a fuzzer might write them: every op, every key its args and
 * outputs may hold, in every spelling the format allows (numbers, decimal and hex strings,
 * U64_MAX, flag and enum names), plus the envelope and unknown keys.
 */
import fc from 'fast-check';
import { NAME_FAMILIES, VERSIONS } from '../../events/index.ts';
import type { EnvArgSpec, FieldSpec, ScalarType, StructSpec } from '../../events/index.ts';
import { MMAP_ARGS, OPS, type OpName } from '../../events/ops.ts';
import { DATA_KEY, type Group, type OpPlan, PLANS, TRAILING_KEY, recordPlan } from '../../events/op-plan.ts';

type Raw = { [key: string]: unknown };

const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const BITS = { u8: 8n, u16: 16n, u32: 32n, s32: 32n, u64: 64n } as const;

/** The ways the format lets a trace write `v`. */
function spellings(v: bigint): unknown[] {
  const out: unknown[] = [v.toString()];
  if (v <= MAX_SAFE && v >= -MAX_SAFE) out.push(Number(v));
  if (v >= 0n) out.push(`0x${v.toString(16)}`, `0x${v.toString(16).toUpperCase()}`);
  if (v === U64_MAX) out.push('U64_MAX');
  return out;
}

export function kernelNumber(type: ScalarType, count = 1): fc.Arbitrary<unknown> {
  const bits = BITS[type] * BigInt(count);
  const [min, max] = type === 's32' ? [-(1n << 31n), (1n << 31n) - 1n] : [0n, (1n << bits) - 1n];
  return fc
    .oneof(fc.constantFrom(0n, 1n, min, max), fc.bigInt({ min, max }))
    .chain((v) => fc.constantFrom(...spellings(v)));
}

const address = fc.oneof(fc.constant(0), kernelNumber('u64'));

const familyNames = (family: string): string[] => [...(NAME_FAMILIES.get(family)?.keys() ?? [])];

/** Values of open layout, as driver data, records and device properties hold them. */
const looseValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.maxSafeInteger(),
    kernelNumber('u64'),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 }),
  ),
})).value;

const looseRecord = fc.dictionary(fc.string(), looseValue, { maxKeys: 4 });
const hexBytes = fc.uint8Array({ maxLength: 12 }).map((b) => `0x${Buffer.from(b).toString('hex')}`);
const opaque = fc.oneof(looseRecord, fc.array(looseRecord, { maxLength: 3 }), hexBytes);

function fieldValue(field: FieldSpec): fc.Arbitrary<unknown> {
  const pointer = field.pointer;
  if (pointer?.kind === 'array') {
    return fc.oneof(fc.constant(null), address, fc.array(structRecord(pointer.element), { maxLength: 3 }));
  }
  if (pointer !== undefined) return fc.oneof(fc.constant(null), address);
  const number = kernelNumber(field.type, field.count);
  const names = field.names;
  if (names === undefined) return number;
  const all = familyNames(names.family);
  return names.kind === 'flags' ? fc.oneof(number, fc.subarray(all)) : fc.oneof(number, fc.constantFrom(...all));
}

const optionalRecord = (model: { [key: string]: fc.Arbitrary<unknown> }): fc.Arbitrary<Raw> =>
  fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Raw>;

const groupRecord = (members: Group['members']) =>
  optionalRecord(Object.fromEntries([...members].map(([key, field]) => [key, fieldValue(field)])));

function structRecord(struct: StructSpec): fc.Arbitrary<Raw> {
  const model: { [key: string]: fc.Arbitrary<unknown> } = {};
  for (const [key, entry] of recordPlan(struct).keys) {
    model[key] = entry.kind === 'group' ? groupRecord(entry.members) : fieldValue(entry.field);
  }
  return optionalRecord(model);
}

function argValue(spec: EnvArgSpec): fc.Arbitrary<unknown> {
  const value = ((): fc.Arbitrary<unknown> => {
    switch (spec.type) {
      case 'u64':
      case 'u32':
      case 's32':
        return kernelNumber(spec.type);
      case 'bool':
        return fc.boolean();
      case 'string':
        return spec.allowed === undefined ? fc.string() : fc.constantFrom(...spec.allowed);
      case 'strings':
        return spec.allowed === undefined ? fc.array(fc.string()) : fc.subarray([...spec.allowed]);
      case 'records':
        return fc.array(spec.element === undefined ? looseRecord : structRecord(spec.element), { maxLength: 3 });
      case 'flags':
        return fc.oneof(kernelNumber('u64'), fc.subarray(familyNames(spec.family ?? '')));
      case 'enum':
        return fc.oneof(kernelNumber('u64'), fc.constantFrom(...familyNames(spec.family ?? '')));
      case 'rlimit':
        return fc.oneof(fc.constant('unlimited'), kernelNumber('u64'));
    }
  })();
  return spec.nullable === true ? fc.oneof(fc.constant(null), value) : value;
}

const plainArgs = (args: readonly EnvArgSpec[]) => optionalRecord(Object.fromEntries(args.map((a) => [a.name, argValue(a)])));

/** Struct args, with `size` and `__trailing` kept consistent and inline data beside a NULL pointer. */
function structArgs(plan: OpPlan, struct: StructSpec): fc.Arbitrary<Raw> {
  const model: { [key: string]: fc.Arbitrary<unknown> } = {};
  for (const [key, entry] of plan.inputs) {
    if (key === struct.sizeField || key === TRAILING_KEY) continue;
    if (entry.kind === 'field') model[key] = fieldValue(entry.field);
    else if (entry.kind === 'group') model[key] = groupRecord(entry.members);
    else if (entry.kind === 'data') model[key] = opaque;
    else if (entry.kind === 'arg') model[key] = argValue(entry.arg);
  }
  // [size, trailing bytes]: trailing bytes only where size reaches past the struct.
  const sizing: fc.Arbitrary<[number | undefined, Uint8Array | undefined]> = fc
    .option(fc.integer({ min: 0, max: struct.size + 12 }), { nil: undefined })
    .chain((size) => {
      const extra = size === undefined ? 0 : size - struct.size;
      const bytes = extra > 0 ? fc.option(fc.uint8Array({ minLength: extra, maxLength: extra }), { nil: undefined }) : fc.constant(undefined);
      return bytes.map((trailing): [number | undefined, Uint8Array | undefined] => [size, trailing]);
    });
  return fc.tuple(optionalRecord(model), sizing).map(([args, [size, trailing]]) => {
    const out: Raw = { ...args };
    if (plan.dataPointer !== null && DATA_KEY in out) delete out[plan.dataPointer.name];
    if (size !== undefined && struct.sizeField !== null) out[struct.sizeField] = size;
    if (trailing !== undefined) out[TRAILING_KEY] = `0x${Buffer.from(trailing).toString('hex')}`;
    return out;
  });
}

function outputs(plan: OpPlan): fc.Arbitrary<Raw> {
  const model: { [key: string]: fc.Arbitrary<unknown> } = {};
  for (const [key, entry] of plan.outputs) {
    switch (entry.kind) {
      case 'field':
        model[key] = fieldValue(entry.field);
        break;
      case 'group':
        model[key] = groupRecord(entry.members);
        break;
      case 'buffer': {
        const pointer = entry.field.pointer;
        const element = pointer?.kind === 'buffer' ? pointer.element : undefined;
        model[key] = element === undefined ? opaque : fc.array(structRecord(element), { maxLength: 3 });
        break;
      }
      case 'data':
        model[key] = opaque;
        break;
      case 'arg':
        model[key] = argValue(entry.arg);
        break;
    }
  }
  return optionalRecord(model);
}

const ENVELOPE = new Set(['seq', 'pid', 'fd', 'op', 'args', 'expect', 'inferred', 'unsure', 'fail_nth']);

const extraKeys = fc.dictionary(
  fc.string().filter((k) => !ENVELOPE.has(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);

function eventOf(op: OpName): fc.Arbitrary<Raw> {
  const plan = PLANS.get(op);
  const spec = OPS.get(op);
  if (plan === undefined || spec === undefined) throw new Error(op);
  const layout = spec.layout;
  const args = layout.kind === 'struct' ? structArgs(plan, layout.struct) : plainArgs(layout.args);
  const names = [...plan.outputs.keys()];
  return fc
    .record(
      {
        seq: fc.oneof(fc.nat(), fc.constant(null)),
        pid: fc.integer({ min: 1, max: 1 << 22 }),
        fd: fc.integer({ min: -1, max: 1024 }),
        args: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 8, arbitrary: args }),
        expect: optionalRecord({ errno: fc.constantFrom('EINVAL', 'ENOENT', 'EWOULDBLOCK', '*'), out: outputs(plan) }),
        inferred: fc.oneof(fc.constant(true), fc.subarray(names)),
        unsure: fc.boolean(),
        fail_nth: fc.integer({ min: 1, max: 50 }),
      },
      { requiredKeys: [] },
    )
    .chain((envelope) => extraKeys.map((extra) => ({ ...extra, ...envelope, op })));
}

export const rawEvent: fc.Arbitrary<Raw> = fc.constantFrom(...OPS.keys()).chain(eventOf);

const spelled = (values: fc.Arbitrary<bigint>): fc.Arbitrary<unknown> => values.chain((v) => fc.constantFrom(...spellings(v)));

/** The page sizes Linux builds with, and huge pages from the largest of them to 16 GiB. */
const pageSize = spelled(fc.constantFrom(12, 13, 14, 15, 16, 18).map((k) => 1n << BigInt(k)));
const hugepageSize = spelled(fc.integer({ min: 18, max: 34 }).map((k) => 1n << BigInt(k)));

/** Header mappings 2^35 apart, so that they are aligned to any huge page and never overlap. */
const mappings = fc.array(plainArgs(MMAP_ARGS), { maxLength: 3 }).chain((list) =>
  fc.tuple(
    ...list.map((args, i) =>
      fc
        .record({ addr: spelled(fc.constant(0x7f0000000000n + (BigInt(i) << 35n))), length: spelled(fc.bigInt({ min: 1n, max: 1n << 30n })) })
        .map((place) => ({ ...args, ...place })),
    ),
  ),
);

const process = fc.record(
  {
    uid: kernelNumber('u32'),
    rlimit_memlock: fc.oneof(fc.constant('unlimited'), kernelNumber('u64')),
    caps: fc.subarray(['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE']),
  },
  { requiredKeys: [] },
);

export const rawHeader: fc.Arbitrary<Raw> = fc
  .record(
    {
      env: optionalRecord({
        page_size: pageSize,
        hugepage_size: hugepageSize,
        memory: fc.constantFrom('declared', 'any'),
        mappings,
        processes: fc
          .uniqueArray(fc.integer({ min: 1, max: 1 << 22 }), { minLength: 1, maxLength: 3 })
          .chain((pids) => fc.tuple(...pids.map((pid) => process.map((p) => ({ pid, ...p }))))),
        devices: fc
          .uniqueArray(fc.string({ minLength: 1 }), { maxLength: 3 })
          .chain((names) =>
            fc.tuple(
              ...names.map((name) =>
                fc.dictionary(fc.string().filter((k) => k !== 'name' && k !== 'kind'), looseValue, { maxKeys: 3 }).map((params) => ({
                  ...params,
                  name,
                  kind: 'mock',
                })),
              ),
            ),
          ),
        note: fc.string(),
        kernel: fc.constantFrom('6.12', 'v6.4', '5.14.0-427.el9', 'not a version'),
      }),
      kernel: fc.string(),
      params: fc.dictionary(fc.string(), looseValue, { maxKeys: 3 }),
      source: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  .chain((header) =>
    // Every version the reader knows, as a string and as a number.
    fc.constantFrom(...VERSIONS.flatMap((v) => [v, Number(v)])).map((version) => ({ trace: 'iommufd', version, ...header })),
  );
