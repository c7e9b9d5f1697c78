/**
 * Lookup tables derived once from the op registry, so that reading and writing an event walks
 * fixed tables instead of searching specs: which keys an op's `args` and `expect.out` may hold
 * and what each key is.
 */
import { OPS, type OpName } from './ops.ts';
import type { EnvArgSpec, FieldSpec, OpSpec, StructSpec } from './spec-types.ts';

/** A named inner struct (`check_dev_cache`, `ddw`), written as a nested record. */
export interface Group {
  readonly kind: 'group';
  readonly name: string;
  readonly members: ReadonlyMap<string, FieldSpec>;
}

export type RecordKey = { readonly kind: 'field'; readonly field: FieldSpec } | Group;

/** A struct as a record: its top-level keys in declaration order. */
export interface RecordPlan {
  readonly struct: StructSpec;
  readonly keys: ReadonlyMap<string, RecordKey>;
}

export type InputKey =
  | RecordKey
  /** Inline driver data, beside its pointer field. */
  | { readonly kind: 'data' }
  /** `__trailing`: the bytes between sizeof and `size`. */
  | { readonly kind: 'trailing' }
  | { readonly kind: 'arg'; readonly arg: EnvArgSpec };

export type OutputKey =
  | RecordKey
  /** What the kernel wrote into an output buffer (`allowed_iovas`, `data_uptr`). */
  | { readonly kind: 'buffer'; readonly field: FieldSpec }
  | { readonly kind: 'data' }
  | { readonly kind: 'arg'; readonly arg: EnvArgSpec };

/** A count field and the key whose inline array length is its default (`num_iovas` ← `allowed_iovas`). */
export interface CountDefault {
  readonly count: string;
  readonly array: string;
}

export interface OpPlan {
  readonly spec: OpSpec<OpName>;
  /** The struct of a struct op, as a record; null for plain ops. */
  readonly record: RecordPlan | null;
  readonly inputs: ReadonlyMap<string, InputKey>;
  readonly outputs: ReadonlyMap<string, OutputKey>;
  /** The pointer field that inline `data` stands for. */
  readonly dataPointer: FieldSpec | null;
  readonly counts: readonly CountDefault[];
}

export const TRAILING_KEY = '__trailing';
export const DATA_KEY = 'data';

const records = new WeakMap<StructSpec, RecordPlan>();

export function recordPlan(struct: StructSpec): RecordPlan {
  const cached = records.get(struct);
  if (cached !== undefined) return cached;
  const keys = new Map<string, RecordKey>();
  for (const field of struct.fields) {
    const dot = field.name.indexOf('.');
    if (dot < 0) {
      keys.set(field.name, { kind: 'field', field });
      continue;
    }
    const name = field.name.slice(0, dot);
    const group = keys.get(name) ?? { kind: 'group', name, members: new Map<string, FieldSpec>() };
    if (group.kind !== 'group') throw new Error(`${struct.name}: ${name} is both a field and a group`);
    keys.set(name, { ...group, members: new Map([...group.members, [field.name.slice(dot + 1), field]]) });
  }
  const plan = { struct, keys };
  records.set(struct, plan);
  return plan;
}

const isOutput = (field: FieldSpec): boolean => field.dir !== 'in';

function structPlan(
  spec: OpSpec<OpName>,
  struct: StructSpec,
  extra: readonly EnvArgSpec[],
  outs: readonly EnvArgSpec[],
): OpPlan {
  const record = recordPlan(struct);
  const inputs = new Map<string, InputKey>(record.keys);
  const outputs = new Map<string, OutputKey>();
  const counts: CountDefault[] = [];
  let dataPointer: FieldSpec | null = null;
  for (const [name, key] of record.keys) {
    if (key.kind === 'group') {
      const members = new Map([...key.members].filter(([, field]) => isOutput(field)));
      if (members.size > 0) outputs.set(name, { kind: 'group', name, members });
      continue;
    }
    const { field } = key;
    const pointer = field.pointer;
    if (pointer?.kind === 'buffer') outputs.set(name, { kind: 'buffer', field });
    else if (isOutput(field)) outputs.set(name, key);
    if (pointer?.kind === 'array') counts.push({ count: pointer.countField, array: name });
    if (pointer?.kind === 'data') {
      dataPointer = field;
      inputs.set(DATA_KEY, { kind: 'data' });
      outputs.set(DATA_KEY, { kind: 'data' });
      if (pointer.countField !== undefined) counts.push({ count: pointer.countField, array: DATA_KEY });
    }
  }
  inputs.set(TRAILING_KEY, { kind: 'trailing' });
  for (const a of extra) inputs.set(a.name, { kind: 'arg', arg: a });
  for (const a of outs) outputs.set(a.name, { kind: 'arg', arg: a });
  return { spec, record, inputs, outputs, dataPointer, counts };
}

function plainPlan(spec: OpSpec<OpName>, args: readonly EnvArgSpec[], outs: readonly EnvArgSpec[]): OpPlan {
  return {
    spec,
    record: null,
    inputs: new Map(args.map((a) => [a.name, { kind: 'arg', arg: a }])),
    outputs: new Map(outs.map((a) => [a.name, { kind: 'arg', arg: a }])),
    dataPointer: null,
    counts: [],
  };
}

function planOf(spec: OpSpec<OpName>): OpPlan {
  const layout = spec.layout;
  return layout.kind === 'struct'
    ? structPlan(spec, layout.struct, layout.extra ?? [], layout.outs ?? [])
    : plainPlan(spec, layout.args, layout.outs);
}

export const PLANS: ReadonlyMap<OpName, OpPlan> = new Map([...OPS].map(([op, spec]) => [op, planOf(spec)]));
