/**
 * VFIO as the trace header sets it up (format 1.1): what serves /dev/vfio/vfio, the registered
 * IOMMU drivers, the module parameters, and the groups of the header's devices.
 *
 * A device whose `group` is a number is in VFIO group N (/dev/vfio/N) with every other device of
 * that number (the reader checked the numbers, `msi_isolated` and that no group mixes devices
 * with and without an IOMMU). A device of kind `noiommu` has no IOMMU: VFIO gives it a no-IOMMU group
 * (/dev/vfio/noiommu-N) only when CONFIG_VFIO_NOIOMMU is built (the `noiommu` driver is
 * registered) and `vfio.enable_unsafe_noiommu_mode` is set (`vfio_group_find_or_alloc()`);
 * otherwise it has no group at all.
 */
import { boolParam, spaprProps, uintParam } from '../../events/vfio-env.ts';
import type { DeviceDecl, TraceHeader, VfioDriverName } from '../../events/types.ts';
import { OrderedMap } from '../model/ordered-map.ts';
import type { SpaprPe } from './spapr-state.ts';
import type { VfioConfig, VfioGroup, VfioState } from './state.ts';

/** `dma_entry_limit`'s default: U16_MAX. */
const DEFAULT_DMA_ENTRY_LIMIT = 65535n;

/** The drivers a host without `env.vfio.drivers` has: SPAPR TCE on POWER (devices of kind `spapr`), type1 elsewhere. */
function impliedDrivers(devices: readonly DeviceDecl[]): VfioDriverName[] {
  return devices.some((d) => d.kind === 'spapr') ? ['spapr_tce'] : ['type1'];
}

export function vfioConfig(header: TraceHeader): VfioConfig {
  const { params } = header;
  const decl = header.env.vfio;
  return {
    container: decl?.container ?? 'native',
    drivers: decl?.drivers ?? impliedDrivers(header.env.devices),
    noiommuMode: boolParam(params, 'vfio.enable_unsafe_noiommu_mode'),
    dmaEntryLimit: uintParam(params, 'vfio_iommu_type1.dma_entry_limit', DEFAULT_DMA_ENTRY_LIMIT),
    type1UnsafeInterrupts: boolParam(params, 'vfio_iommu_type1.allow_unsafe_interrupts'),
    iommufdUnsafeInterrupts: boolParam(params, 'iommufd.allow_unsafe_interrupts'),
    msiNotIsolated: header.env.devices.flatMap((d, i) => (msiIsolated(d) ? [] : [i])),
  };
}

/** `msi_isolated` (default true: interrupt remapping, as the hosts VFIO runs on have). */
const msiIsolated = (decl: DeviceDecl): boolean => decl.params['msi_isolated'] !== false;

/** The PE a `spapr` device is in: its group's table group. */
function peOf(decl: DeviceDecl): SpaprPe | null {
  if (decl.kind !== 'spapr') return null;
  const p = spaprProps(decl);
  return {
    tce32Start: p.tce32_start,
    tce32Size: p.tce32_size,
    tce64Start: p.tce64_start,
    pgsizes: p.pgsizes,
    maxDynamicWindows: p.max_dynamic_windows_supported,
    maxLevels: p.max_levels,
  };
}

/** The VFIO groups of the header's devices, by number. */
function groupsOf(decls: readonly DeviceDecl[], config: VfioConfig): OrderedMap<number, VfioGroup> {
  const noiommuGroups = config.drivers.includes('noiommu') && config.noiommuMode;
  let groups = OrderedMap.empty<number, VfioGroup>();
  decls.forEach((decl, index) => {
    const n = decl.params['group'];
    if (typeof n !== 'bigint') return;
    const noiommu = decl.kind === 'noiommu';
    if (noiommu && !noiommuGroups) return;
    const id = Number(n);
    const group = groups.get(id);
    groups = groups.set(id, {
      id,
      noiommu,
      devices: [...(group?.devices ?? []), index],
      pe: group?.pe ?? peOf(decl),
      opened: null,
      container: null,
      iommufd: null,
      containerUsers: 0,
      opens: [...(group?.opens ?? []), 0],
    });
  });
  return groups;
}

export function vfioState(header: TraceHeader): VfioState {
  const config = vfioConfig(header);
  return { config, groups: groupsOf(header.env.devices, config), containers: OrderedMap.empty(), nextContainer: 1, spaprMms: OrderedMap.empty() };
}
