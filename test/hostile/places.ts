/**
 * Every place of a trace a value may appear: the header's keys and the event keys every op has,
 * then each op's inputs and outputs as the op plans list them (struct fields, the members of a
 * named inner struct, an inline array's element fields, driver data, `__trailing`, plain
 * arguments), so that an op or field added to the tables is a place here without a change.
 */
import { NAME_FAMILIES } from '../../events/names.ts';
import { MMAP_ARGS } from '../../events/ops.ts';
import { type InputKey, type OutputKey, PLANS } from '../../events/op-plan.ts';
import type { EnvArgSpec, FieldSpec } from '../../events/spec-types.ts';
import { SPAPR_PROPS } from '../../events/vfio-env.ts';
import type { Step } from './json-text.ts';

/**
 * What a place takes, so that the values tried there include its own edge cases: `names` are
 * the flag or enum names, or the strings, that it accepts.
 */
export interface Hint {
  readonly kind: 'int' | 'flags' | 'enum' | 'bool' | 'string' | 'strings' | 'records' | 'data' | 'trailing' | 'array' | 'any';
  readonly bits?: number;
  readonly names?: readonly string[];
}

export interface Place {
  /** `header env.page_size`, `IOAS_MAP args.length`, `* seq` (an event key of any op). */
  readonly name: string;
  /** Whose line: the header's, an op's event, or `*` for an event of any op. */
  readonly line: string;
  readonly path: readonly Step[];
  readonly hint: Hint;
}

const BITS: Readonly<Record<FieldSpec['type'], number>> = { u8: 8, u16: 16, u32: 32, s32: 32, u64: 64 };

const namesOf = (family: string): string[] => [...(NAME_FAMILIES.get(family)?.keys() ?? [])];

function fieldHint(field: FieldSpec): Hint {
  const bits = BITS[field.type] * (field.count ?? 1);
  if (field.names !== undefined) return { kind: field.names.kind, bits, names: namesOf(field.names.family) };
  return { kind: 'int', bits };
}

function argHint(arg: EnvArgSpec): Hint {
  switch (arg.type) {
    case 'u64':
    case 'u32':
    case 's32':
      return { kind: 'int', bits: arg.type === 'u64' ? 64 : 32 };
    case 'rlimit':
      return { kind: 'int', bits: 64, names: ['unlimited'] };
    case 'flags':
    case 'enum':
      return { kind: arg.type, bits: 64, names: namesOf(arg.family ?? '') };
    case 'string':
    case 'strings':
      return { kind: arg.type, ...(arg.allowed === undefined ? {} : { names: arg.allowed }) };
    case 'bool':
    case 'records':
      return { kind: arg.type };
  }
}

/** The places under one input or output key of an op: the key, and what it holds inside. */
function placesOfKey(line: string, at: readonly Step[], key: string, entry: InputKey | OutputKey): Place[] {
  const here = (path: readonly Step[], hint: Hint): Place => ({ name: `${line} ${path.join('.')}`, line, path, hint });
  const path = [...at, key];
  switch (entry.kind) {
    case 'group':
      return [here(path, { kind: 'any' }), ...[...entry.members].map(([member, field]) => here([...path, member], fieldHint(field)))];
    case 'field':
    case 'buffer': {
      const { field } = entry;
      const pointer = field.pointer;
      const element = pointer?.kind === 'array' || pointer?.kind === 'buffer' ? pointer.element : undefined;
      if (element === undefined) return [here(path, fieldHint(field))];
      return [
        here(path, { kind: 'array' }),
        ...element.fields.map((f) => here([...path, 0, f.name], fieldHint(f))),
      ];
    }
    case 'data':
      return [here(path, { kind: 'data' }), here([...path, 0], { kind: 'any' })];
    case 'trailing':
      return [here(path, { kind: 'trailing' })];
    case 'arg': {
      const hint = argHint(entry.arg);
      const inner = hint.kind === 'records' ? [here([...path, 0], { kind: 'any' }), here([...path, 0, 'x'], { kind: 'any' })] : [];
      return [here(path, hint), ...inner];
    }
  }
}

/** Keys of an event line that every op has (trace-format.md, "Event lines"). */
const EVENT_KEYS: readonly (readonly [Step[], Hint])[] = [
  [['seq'], { kind: 'int', bits: 53 }],
  [['pid'], { kind: 'int', bits: 32 }],
  [['fd'], { kind: 'int', bits: 32 }],
  [['op'], { kind: 'string', names: [...PLANS.keys()] }],
  [['args'], { kind: 'any' }],
  [['expect'], { kind: 'any' }],
  [['expect', 'errno'], { kind: 'string', names: ['EINVAL', '*', 'E2BIG', 'ENOENT'] }],
  [['expect', 'out'], { kind: 'any' }],
  [['expect', 'x'], { kind: 'any' }],
  [['inferred'], { kind: 'strings' }],
  [['unsure'], { kind: 'bool' }],
  [['fail_nth'], { kind: 'int', bits: 32 }],
  [['source_line'], { kind: 'int', bits: 53 }],
  [['unknown_args'], { kind: 'strings' }],
  [['args_one_of'], { kind: 'any' }],
  [['note'], { kind: 'any' }],
];

/** The module parameters trace-format.md names (Versions, format 1.1). */
const PARAMS = [
  'vfio_iommu_type1.dma_entry_limit',
  'vfio_iommu_type1.allow_unsafe_interrupts',
  'vfio_iommu_type1.disable_hugepages',
  'vfio.enable_unsafe_noiommu_mode',
  'iommufd.allow_unsafe_interrupts',
];

/** The properties trace-format.md lists for a header device (Header), a `spapr` one's included. */
const DEVICE_KEYS: readonly (readonly [string, Hint])[] = [
  ['name', { kind: 'string' }],
  ['kind', { kind: 'string', names: ['mock', 'intel-vtd', 'spapr', 'noiommu'] }],
  ['group', { kind: 'int', bits: 31 }],
  ['cdev', { kind: 'int', bits: 20 }],
  ['msi_isolated', { kind: 'bool' }],
  ['aperture', { kind: 'any' }],
  ['pgsize_bitmap', { kind: 'int', bits: 64 }],
  ['reserved', { kind: 'array' }],
  ['max_pasid_log2', { kind: 'int', bits: 32 }],
  ['dirty', { kind: 'bool' }],
  ['nesting', { kind: 'bool' }],
  ...Object.entries(SPAPR_PROPS).map(([name, prop]): [string, Hint] => [name, { kind: 'int', bits: prop.bits }]),
];

function headerPlaces(): Place[] {
  const here = (path: readonly Step[], hint: Hint): Place => ({ name: `header ${path.join('.')}`, line: 'header', path, hint });
  const mapping = MMAP_ARGS.map((arg) => here(['env', 'mappings', 0, arg.name], argHint(arg)));
  return [
    here(['trace'], { kind: 'string', names: ['iommufd'] }),
    here(['version'], { kind: 'string', names: ['1', '1.1'] }),
    here(['kernel'], { kind: 'string' }),
    here(['description'], { kind: 'any' }),
    here(['env'], { kind: 'any' }),
    here(['params'], { kind: 'any' }),
    ...PARAMS.map((p) => here(['params', p], { kind: 'any' })),
    ...PARAMS.map((p) => here(['env', 'params', p], { kind: 'any' })),
    here(['env', 'page_size'], { kind: 'int', bits: 64 }),
    here(['env', 'hugepage_size'], { kind: 'int', bits: 64 }),
    here(['env', 'memory'], { kind: 'string', names: ['declared', 'any'] }),
    here(['env', 'mappings'], { kind: 'array' }),
    here(['env', 'mappings', 0], { kind: 'any' }),
    ...mapping,
    here(['env', 'processes'], { kind: 'array' }),
    here(['env', 'processes', 0], { kind: 'any' }),
    here(['env', 'processes', 0, 'pid'], { kind: 'int', bits: 32 }),
    here(['env', 'processes', 0, 'uid'], { kind: 'int', bits: 32 }),
    here(['env', 'processes', 0, 'rlimit_memlock'], { kind: 'int', bits: 64, names: ['unlimited'] }),
    here(['env', 'processes', 0, 'caps'], { kind: 'strings', names: ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE', 'CAP_SYS_RAWIO'] }),
    here(['env', 'processes', 1, 'pid'], { kind: 'int', bits: 32 }),
    here(['env', 'devices'], { kind: 'array' }),
    here(['env', 'devices', 0], { kind: 'any' }),
    ...DEVICE_KEYS.map(([key, hint]) => here(['env', 'devices', 0, key], hint)),
    here(['env', 'devices', 0, 'reserved', 0, 'start'], { kind: 'int', bits: 64 }),
    here(['env', 'devices', 0, 'reserved', 0, 'type'], { kind: 'string', names: ['DIRECT', 'DIRECT_RELAXABLE', 'RESERVED', 'MSI', 'SW_MSI'] }),
    here(['env', 'devices', 0, 'aperture', 'last'], { kind: 'int', bits: 64 }),
    here(['env', 'devices', 1, 'name'], { kind: 'string' }),
    here(['env', 'vfio'], { kind: 'any' }),
    here(['env', 'vfio', 'container'], { kind: 'string', names: ['native', 'iommufd'] }),
    here(['env', 'vfio', 'drivers'], { kind: 'strings', names: ['type1', 'spapr_tce', 'noiommu'] }),
  ];
}

function eventPlaces(): Place[] {
  const generic = EVENT_KEYS.map(([path, hint]): Place => ({ name: `* ${path.join('.')}`, line: '*', path, hint }));
  const perOp = [...PLANS].flatMap(([op, plan]) => [
    ...[...plan.inputs].flatMap(([key, entry]) => placesOfKey(op, ['args'], key, entry)),
    ...[...plan.outputs].flatMap(([key, entry]) => placesOfKey(op, ['expect', 'out'], key, entry)),
    // Each op once with an argument left unrecorded, its values listed.
    ...[...plan.inputs.keys()].slice(0, 1).map((key): Place => ({ name: `${op} args_one_of.${key}`, line: op, path: ['args_one_of', key], hint: { kind: 'array' } })),
  ]);
  return [...generic, ...perOp];
}

/** Every place, in a fixed order: the header's, the event keys of any op, then each op's. */
export const PLACES: readonly Place[] = [...headerPlaces(), ...eventPlaces()];
