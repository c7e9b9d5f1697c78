/**
 * The op registry and struct tables against the format's op list, the spec's numbers
 * (iommufd.md §2.1, §7.3; vfio-spapr-history-users.md §A.0) and the C layout rules.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NAME_FAMILIES, OPS } from '../../events/index.ts';
import type { FieldSpec, OpSpec, StructSpec } from '../../events/index.ts';
import { isOpName } from '../../events/ops.ts';


/** The spec of an op the tables below name; a name that is no op fails the test. */
const specOf = (op: string): OpSpec => {
  const spec = isOpName(op) ? OPS.get(op) : undefined;
  if (spec === undefined) throw new Error(`${op} is not an op`);
  return spec;
};

const structOf = (op: string): StructSpec => {
  const layout = specOf(op).layout;
  if (layout.kind !== 'struct') throw new Error(`${op} is not a struct op`);
  return layout.struct;
};

describe('registry', () => {
  it('has exactly the ops the format lists', () => {
    const format = readFileSync(new URL('../../docs/trace-format.md', import.meta.url), 'utf8');
    const section = format.slice(format.indexOf('## Operations'), format.indexOf('## Example'));
    const named = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]));
    // The section also names the selftest ioctl and the TEST_ prefix, which are not ops.
    named.delete('IOMMU_TEST_CMD');
    named.delete('TEST_');
    expect([...OPS.keys()].sort()).toEqual([...named].sort());
    expect([...OPS.keys()].filter((op) => op.startsWith('TEST_'))).toHaveLength(23);
  });

  // iommufd.md §2.1: nr, ioctl, sizeof, min size.
  it.each([
    ['DESTROY', 0x3b80, 8, 8],
    ['IOAS_ALLOC', 0x3b81, 12, 12],
    ['IOAS_ALLOW_IOVAS', 0x3b82, 24, 24],
    ['IOAS_COPY', 0x3b83, 40, 40],
    ['IOAS_IOVA_RANGES', 0x3b84, 32, 32],
    ['IOAS_MAP', 0x3b85, 40, 40],
    ['IOAS_UNMAP', 0x3b86, 24, 24],
    ['OPTION', 0x3b87, 24, 24],
    ['VFIO_IOAS', 0x3b88, 12, 12],
    ['HWPT_ALLOC', 0x3b89, 48, 24],
    ['GET_HW_INFO', 0x3b8a, 40, 32],
    ['HWPT_SET_DIRTY_TRACKING', 0x3b8b, 16, 16],
    ['HWPT_GET_DIRTY_BITMAP', 0x3b8c, 48, 48],
    ['HWPT_INVALIDATE', 0x3b8d, 32, 32],
    ['FAULT_QUEUE_ALLOC', 0x3b8e, 16, 16],
    ['IOAS_MAP_FILE', 0x3b8f, 40, 40],
    ['VIOMMU_ALLOC', 0x3b90, 40, 24],
    ['VDEVICE_ALLOC', 0x3b91, 24, 24],
    ['IOAS_CHANGE_PROCESS', 0x3b92, 8, 8],
    ['VEVENTQ_ALLOC', 0x3b93, 32, 28],
    ['HW_QUEUE_ALLOC', 0x3b94, 40, 40],
    // VFIO: _IO(';', 100 + n); min size is the kernel's minsz.
    ['VFIO_IOMMU_GET_INFO', 0x3b70, 24, 16],
    ['VFIO_IOMMU_SPAPR_TCE_GET_INFO', 0x3b70, 32, 16],
    ['VFIO_IOMMU_MAP_DMA', 0x3b71, 32, 32],
    ['VFIO_IOMMU_UNMAP_DMA', 0x3b72, 24, 24],
    ['VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 0x3b75, 24, 24],
    ['VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', 0x3b76, 24, 24],
    ['VFIO_IOMMU_SPAPR_TCE_CREATE', 0x3b77, 40, 40],
    ['VFIO_IOMMU_SPAPR_TCE_REMOVE', 0x3b78, 16, 16],
    ['VFIO_DEVICE_BIND_IOMMUFD', 0x3b76, 24, 16],
    ['VFIO_DEVICE_ATTACH_IOMMUFD_PT', 0x3b77, 16, 12],
    ['VFIO_DEVICE_DETACH_IOMMUFD_PT', 0x3b78, 12, 8],
    // struct vfio_iommu_type1_dirty_bitmap (8) with the GET_BITMAP data behind it (40).
    ['VFIO_IOMMU_DIRTY_PAGES', 0x3b75, 48, 8],
    ['VFIO_GROUP_GET_STATUS', 0x3b67, 8, 8],
  ])('%s is ioctl %i with sizeof %i, min size %i', (op, ioctl, size, minSize) => {
    expect(specOf(op).ioctl).toBe(ioctl);
    expect(structOf(op)).toMatchObject({ size, minSize });
  });

  it.each([
    ['VFIO_GET_API_VERSION', 0x3b64],
    ['VFIO_CHECK_EXTENSION', 0x3b65],
    ['VFIO_SET_IOMMU', 0x3b66],
    ['VFIO_IOMMU_ENABLE', 0x3b73],
    ['VFIO_IOMMU_DISABLE', 0x3b74],
  ])('%s is ioctl %i with a plain argument', (op, ioctl) => {
    expect(specOf(op)).toMatchObject({ ioctl, family: 'vfio-container', layout: { kind: 'plain' } });
  });

  it.each([
    ['VFIO_GROUP_SET_CONTAINER', 0x3b68],
    ['VFIO_GROUP_UNSET_CONTAINER', 0x3b69],
    ['VFIO_GROUP_GET_DEVICE_FD', 0x3b6a],
  ])('%s is group ioctl %i with a plain argument', (op, ioctl) => {
    expect(specOf(op)).toMatchObject({ ioctl, family: 'vfio-group', layout: { kind: 'plain' } });
  });

  // iommufd.md §7.3, in IOMMU_TEST_OP_* order from 1.
  it('numbers the selftest ops as iommufd_test.h does, all on IOMMU_TEST_CMD', () => {
    const order = [
      'ADD_RESERVED', 'MOCK_DOMAIN', 'MD_CHECK_MAP', 'MD_CHECK_REFS', 'CREATE_ACCESS', 'DESTROY_ACCESS_PAGES',
      'ACCESS_PAGES', 'ACCESS_RW', 'SET_TEMP_MEMORY_LIMIT', 'MOCK_DOMAIN_REPLACE', 'ACCESS_REPLACE_IOAS',
      'MOCK_DOMAIN_FLAGS', 'DIRTY', 'MD_CHECK_IOTLB', 'TRIGGER_IOPF', 'DEV_CHECK_CACHE', 'TRIGGER_VEVENT',
      'PASID_ATTACH', 'PASID_REPLACE', 'PASID_DETACH', 'PASID_CHECK_HWPT', 'DMABUF_GET', 'DMABUF_REVOKE',
    ];
    order.forEach((name, i) => {
      const spec = specOf(`TEST_${name}`);
      expect(spec).toMatchObject({ family: 'selftest', ioctl: 0x3ba0, testOp: i + 1 });
      expect(structOf(`TEST_${name}`)).toMatchObject({ size: 72, minSize: 68, sizeField: 'size' });
    });
  });

  it('gives the environment ops their arguments and outputs', () => {
    const plain = (op: string) => {
      const layout = specOf(op).layout;
      if (layout.kind !== 'plain') throw new Error(op);
      return { args: layout.args.map((a) => a.name), outs: layout.outs.map((a) => a.name) };
    };
    expect(plain('OPEN')).toEqual({ args: ['path'], outs: ['fd'] });
    expect(plain('MMAP').outs).toEqual(['addr']);
    expect(plain('MEMFD_CREATE')).toEqual({ args: ['hugetlb'], outs: ['fd'] });
    expect(plain('FORK')).toEqual({ args: [], outs: ['pid'] });
    expect(plain('FD_READ')).toEqual({ args: ['fd', 'count'], outs: ['records'] });
    expect(plain('IOCTL')).toEqual({ args: ['cmd', 'arg'], outs: ['ret'] });
    expect(plain('VFIO_CHECK_EXTENSION')).toEqual({ args: ['arg'], outs: ['ret'] });
    expect(OPS.get('TEST_DMABUF_GET')?.layout).toMatchObject({ outs: [{ name: 'ret' }] });
    expect(OPS.get('VFIO_DEVICE_ATTACH_IOMMUFD_PT')?.layout).toMatchObject({ extra: [{ name: 'dev', type: 'string' }] });
  });
});

describe('struct layouts', () => {
  const structs = new Set<StructSpec>();
  for (const spec of OPS.values()) {
    if (spec.layout.kind !== 'struct') continue;
    structs.add(spec.layout.struct);
    for (const field of spec.layout.struct.fields) {
      if (field.pointer?.kind === 'array') structs.add(field.pointer.element);
      if (field.pointer?.kind === 'buffer' && field.pointer.element) structs.add(field.pointer.element);
    }
  }
  const BYTES = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 } as const;
  const end = (f: FieldSpec) => f.offset + BYTES[f.type] * (f.count ?? 1);

  it.each([...structs].map((s) => [s.name, s] as const))('%s is laid out as C lays it out', (_, struct) => {
    for (const f of struct.fields) {
      expect(f.offset % BYTES[f.type], `${f.name} is naturally aligned`).toBe(0);
      expect(end(f), `${f.name} fits`).toBeLessThanOrEqual(struct.size);
    }
    const sorted = [...struct.fields].sort((a, b) => a.offset - b.offset);
    sorted.slice(1).forEach((f, i) => {
      const prev = sorted[i] as FieldSpec;
      // Only a union's two names share bytes, and then exactly (in_data_type / out_data_type).
      if (f.offset === prev.offset) expect(end(f)).toBe(end(prev));
      else expect(f.offset, `${f.name} after ${prev.name}`).toBeGreaterThanOrEqual(end(prev));
    });
    expect(struct.size % 8 === 0 || struct.fields.every((f) => f.type !== 'u64')).toBe(true);
    expect(struct.minSize).toBeLessThanOrEqual(struct.size);
    if (struct.name.startsWith('iommu_test_cmd.')) {
      // The union member ends by offset 64, where `last` lies (left out of the spec).
      expect(Math.max(...struct.fields.map(end))).toBeLessThanOrEqual(64);
    } else {
      expect(struct.fields.map(end), 'min size is the end of a member').toContain(struct.minSize);
    }
    if (struct.sizeField !== null) expect(struct.fields[0]).toMatchObject({ name: struct.sizeField, offset: 0, type: 'u32' });
  });

  it('names only families that exist, with values that fit their fields', () => {
    for (const struct of structs) {
      for (const f of struct.fields) {
        if (f.names === undefined) continue;
        const family = NAME_FAMILIES.get(f.names.family);
        expect(family, `${struct.name}.${f.name}: ${f.names.family}`).toBeDefined();
        for (const value of family?.values() ?? []) expect(value >> BigInt(8 * BYTES[f.type])).toBe(0n);
      }
    }
  });

  it('puts each selftest member where iommu_test_cmd has it', () => {
    expect(structOf('TEST_ACCESS_PAGES').fields.map((f) => [f.name, f.offset, f.type, f.dir])).toEqual([
      ['size', 0, 'u32', 'in'],
      ['id', 8, 'u32', 'in'],
      ['__reserved', 12, 'u32', 'in'],
      ['flags', 16, 'u32', 'in'],
      ['out_access_pages_id', 20, 'u32', 'out'],
      ['iova', 24, 'u64', 'in'],
      ['length', 32, 'u64', 'in'],
      ['uptr', 40, 'u64', 'in'],
    ]);
    expect(structOf('TEST_DIRTY').fields.at(-1)).toMatchObject({ name: 'out_nr_dirty', offset: 56, dir: 'out' });
    expect(structOf('TEST_DEV_CHECK_CACHE').fields.slice(3).map((f) => [f.name, f.offset])).toEqual([
      ['check_dev_cache.id', 16],
      ['check_dev_cache.cache', 20],
    ]);
    expect(structOf('TEST_DMABUF_REVOKE').fields.slice(3).map((f) => [f.name, f.offset, f.type])).toEqual([
      ['dmabuf_fd', 16, 's32'],
      ['revoked', 20, 'u32'],
    ]);
  });
});
