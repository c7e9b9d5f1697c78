/**
 * The dispatcher's handler tables against the op registry: every op is in exactly one table.
 * The types enforce it (`npm run typecheck` fails on the lines marked
 * `@ts-expect-error` if a table could miss an op); the runtime checks below see the same.
 */
import { describe, expect, it } from 'vitest';
import { OPS, type OpName } from '../../events/ops.ts';
import type { Fields, TraceEvent } from '../../events/types.ts';
import { IOCTLS, PLAIN_OPS, VFIO_COMPAT, VFIO_GROUP, VFIO_NATIVE, isSupported } from '../../src/model/dispatch.ts';

const compatOps = (table: typeof VFIO_COMPAT): string[] => Object.keys(table);
const ioctlOps = (table: typeof IOCTLS): string[] => Object.keys(table);

const event = (op: OpName, fields: Fields = {}): TraceEvent => ({
  line: 2,
  seq: null,
  op,
  args: { size: 0, fields, trailing: new Uint8Array(0) },
  unsure: false,
  extra: {},
});

describe('op registry and handler tables', () => {
  it('does not compile a handler table that misses an op', () => {
    const { VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA } = VFIO_COMPAT;
    // @ts-expect-error VFIO_IOMMU_UNMAP_DMA has no handler and is not listed as unsupported
    const missing = compatOps({ VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA });
    expect(missing).toHaveLength(5);
  });

  it('does not compile a handler table with a misspelled or foreign op', () => {
    const tables = [
      compatOps({
        ...VFIO_COMPAT,
        // @ts-expect-error no op is named so
        VFIO_IOMMU_UNMAP_DAM: VFIO_COMPAT.VFIO_IOMMU_UNMAP_DMA,
      }),
      ioctlOps({
        ...IOCTLS,
        // @ts-expect-error a VFIO device op, not an iommufd ioctl
        VFIO_PIN_PAGES: IOCTLS.DESTROY,
      }),
      compatOps({
        ...VFIO_COMPAT,
        // @ts-expect-error a struct ioctl on an iommufd, not a container ioctl
        IOAS_MAP: VFIO_COMPAT.VFIO_IOMMU_MAP_DMA,
      }),
    ];
    // @ts-expect-error op names are checked wherever a list names ops
    const misspelled = ['VFIO_IOMMU_ENABEL'] satisfies readonly OpName[];
    const compat = Object.keys(VFIO_COMPAT).length;
    expect(tables.map((t) => t.length)).toEqual([compat + 1, Object.keys(IOCTLS).length + 1, compat + 1]);
    expect(misspelled).toHaveLength(1);
  });

  it('partitions the registry: each op is in one handler table, once', () => {
    const named = [...Object.keys(IOCTLS), ...Object.keys(VFIO_COMPAT), ...Object.keys(VFIO_GROUP), ...Object.keys(PLAIN_OPS)];
    expect(named.toSorted()).toEqual([...OPS.keys()].toSorted());
  });

  it('answers the same container ioctls on a native container as through iommufd', () => {
    expect(Object.keys(VFIO_NATIVE).toSorted()).toEqual(Object.keys(VFIO_COMPAT).toSorted());
  });

  it('gives every struct ioctl a struct layout', () => {
    for (const [op, spec] of OPS) if (Object.hasOwn(IOCTLS, op)) expect([op, spec.layout.kind]).toEqual([op, 'struct']);
  });

  it('supports exactly the handled ops and the variants they model', () => {
    // VFIO_DEVICE_FEATURE's variant is its feature: the model has DMA_BUF's.
    for (const op of OPS.keys()) expect([op, isSupported(event(op))]).toEqual([op, op !== 'VFIO_DEVICE_FEATURE']);
    expect(isSupported(event('VFIO_DEVICE_FEATURE', { feature: 11n }))).toBe(true);
    expect(isSupported(event('VFIO_DEVICE_FEATURE', { flags: 0x1000bn }))).toBe(true);
    expect(isSupported(event('VFIO_DEVICE_FEATURE', { feature: 1n }))).toBe(false);
    expect(isSupported(event('OPEN', { path: '/dev/vfio/vfio' }))).toBe(true);
    expect(isSupported(event('OPEN', { path: '/dev/vfio/1' }))).toBe(true);
    expect(isSupported(event('OPEN', { path: '/dev/vfio/devices/vfio0' }))).toBe(true);
    expect(isSupported(event('OPEN', { path: '/dev/vfio/devices' }))).toBe(false);
  });
});
