/**
 * The VFIO devices a trace header declares (`env.devices`, trace format "Header"): what their
 * IOMMU driver offers. Kind `mock` is the selftest mock's driver; any other kind is a driver
 * described by the entry's own parameters (`aperture`, `pgsize_bitmap`, `reserved`,
 * `max_pasid_log2`, `dirty`, `nesting`, `group`), one IOMMU instance per kind. A reserved region
 * may name its `type` (`IOMMU_RESV_*` without the prefix, default `RESERVED`).
 */
import type { DeviceDecl, Fields, Value } from '../../../events/types.ts';
import { mockDeviceModel } from '../selftest/mock.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { DeviceModel, HeaderDevice, Range } from '../../model/world.ts';

function malformed(decl: DeviceDecl, param: string, why: string): never {
  throw new Error(`[iommufd-model] header device ${decl.name}: ${param} ${why}`);
}

function number(decl: DeviceDecl, param: string, fallback: bigint): bigint {
  const v = decl.params[param];
  if (v === undefined) return fallback;
  if (typeof v !== 'bigint') malformed(decl, param, 'is not a number');
  return v;
}

function flag(decl: DeviceDecl, param: string): boolean {
  const v = decl.params[param];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') malformed(decl, param, 'is not true or false');
  return v;
}

/** `{"start":..,"last":..}` or `[start, last]`. */
function range(decl: DeviceDecl, param: string, v: Value): Range {
  const pair = Array.isArray(v) ? { start: v[0], last: v[1] } : typeof v === 'object' && v !== null ? (v as Fields) : {};
  const { start, last } = pair as { start?: Value; last?: Value };
  if (typeof start !== 'bigint' || typeof last !== 'bigint' || start > last) {
    malformed(decl, param, 'is not a range {start, last}');
  }
  return { start, last };
}

/**
 * Whether a reserved region is kept out of IOVA space: every type but DIRECT_RELAXABLE
 * (`iopt_table_enforce_dev_resv_regions()`, `vfio_iommu_resv_exclude()` skip those); the
 * reader checked the type's name.
 */
const excluded = (v: Value): boolean => typeof v !== 'object' || v === null || Array.isArray(v) || (v as Fields)['type'] !== 'DIRECT_RELAXABLE';

function otherModel(decl: DeviceDecl, pageSize: bigint): DeviceModel {
  const reserved = decl.params['reserved'];
  if (reserved !== undefined && !Array.isArray(reserved)) malformed(decl, 'reserved', 'is not an array of ranges');
  const aperture = decl.params['aperture'];
  return {
    name: decl.name,
    kind: decl.kind,
    group: groupOf(decl),
    iommu: decl.kind,
    mockFlags: 0n,
    pgsizeBitmap: number(decl, 'pgsize_bitmap', U64_MAX & ~(pageSize - 1n)),
    aperture: aperture === undefined ? { start: 0n, last: U64_MAX } : range(decl, 'aperture', aperture),
    reserved: ((reserved ?? []) as readonly Value[]).filter(excluded).map((r) => range(decl, 'reserved', r)),
    maxPasidLog2: Number(number(decl, 'max_pasid_log2', 0n)),
    dirty: flag(decl, 'dirty'),
    nesting: flag(decl, 'nesting'),
  };
}

/** Devices sharing a `group` share an IOMMU group; without one a device is its own. */
function groupOf(decl: DeviceDecl): string {
  const g = decl.params['group'];
  return g === undefined ? `dev:${decl.name}` : `group:${String(g)}`;
}

/** `bars` (format 1.1): the sizes of BARs 0-5 in bytes (the reader checked them), if the header gives them. */
function barsOf(decl: DeviceDecl): readonly bigint[] | null {
  const bars = decl.params['bars'];
  return Array.isArray(bars) ? (bars as readonly Value[]).map((b) => (typeof b === 'bigint' ? b : 0n)) : null;
}

/** `xarray`: the release's mock page table is the xarray of before 6.19, as in `mockDeviceModel()`. */
export function headerDevices(decls: readonly DeviceDecl[], pageSize: bigint, xarray: boolean): HeaderDevice[] {
  return decls.map((decl) => ({
    model:
      decl.kind === 'mock'
        ? { ...mockDeviceModel(0n, xarray), name: decl.name, group: groupOf(decl) }
        : otherModel(decl, pageSize),
    cdev: typeof decl.params['cdev'] === 'bigint' ? Number(decl.params['cdev']) : null,
    bars: barsOf(decl),
    bound: null,
    ridAttached: false,
    pasids: [],
  }));
}
