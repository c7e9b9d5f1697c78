/**
 * The VFIO IOMMU drivers a container can open (`struct vfio_iommu_driver_ops`): what each
 * answers to `VFIO_CHECK_EXTENSION`, how `VFIO_SET_IOMMU` opens it, how it takes a group.
 *
 * - type1 (vfio_iommu_type1.c): type1.ts.
 * - SPAPR TCE (vfio_iommu_spapr_tce.c): spapr.ts.
 * - no-IOMMU (container.c, `vfio_noiommu_ops`), registered with CONFIG_VFIO_NOIOMMU: offers its
 *   type only with `vfio.enable_unsafe_noiommu_mode`, opens only with CAP_SYS_RAWIO.
 */
import type { VfioDriverName } from '../../../events/types.ts';
import { Fail, fail } from '../../model/fail.ts';
import type { Process, World } from '../../model/world.ts';
import type { ContainerDriver, VfioGroup } from '../state.ts';
import { capable } from '../store.ts';
import { spaprAttach, spaprExtension, spaprOpen } from './spapr.ts';
import { type1Attach, type1Extension, type1Open } from './type1.ts';

export const VFIO_NOIOMMU_IOMMU = 8n;

interface DriverOps {
  /** `ioctl(VFIO_CHECK_EXTENSION)`; `data` is null before the driver is opened. */
  readonly extension: (world: World, data: ContainerDriver | null, arg: bigint) => bigint;
  readonly open: (world: World, process: Process, arg: bigint) => Fail | ContainerDriver;
  readonly attach: (world: World, data: ContainerDriver, group: VfioGroup) => Fail | ContainerDriver;
}

export const DRIVERS: { readonly [D in VfioDriverName]: DriverOps } = {
  type1: {
    extension: (world, data, arg) => type1Extension(world, data?.kind === 'type1' ? data.iommu : null, arg),
    open: (world, _process, arg) => {
      const iommu = type1Open(world, arg);
      return iommu instanceof Fail ? iommu : { kind: 'type1', iommu };
    },
    attach: (world, data, group) => {
      if (data.kind !== 'type1') throw new Error('[iommufd-model] a type1 attach on another driver');
      const iommu = type1Attach(world, data.iommu, group);
      return iommu instanceof Fail ? iommu : { kind: 'type1', iommu };
    },
  },
  spapr_tce: {
    extension: (_world, _data, arg) => spaprExtension(arg),
    open: (_world, _process, arg) => {
      const iommu = spaprOpen(arg);
      return iommu instanceof Fail ? iommu : { kind: 'spapr_tce', iommu };
    },
    attach: (_world, data, group) => {
      if (data.kind !== 'spapr_tce') throw new Error('[iommufd-model] a SPAPR TCE attach on another driver');
      const iommu = spaprAttach(data.iommu, group);
      return iommu instanceof Fail ? iommu : { kind: 'spapr_tce', iommu };
    },
  },
  noiommu: {
    extension: (world, _data, arg) => (world.vfio.config.noiommuMode && arg === VFIO_NOIOMMU_IOMMU ? 1n : 0n),
    open: (_world, process, arg) => {
      if (arg !== VFIO_NOIOMMU_IOMMU) return fail('EINVAL', 'vfio_noiommu_open', 'not the no-IOMMU type');
      if (!capable(process, 'CAP_SYS_RAWIO')) return fail('EPERM', 'vfio_noiommu_open', 'no CAP_SYS_RAWIO');
      return { kind: 'noiommu' };
    },
    attach: (_world, data) => data,
  },
};

/** The registered drivers as `vfio.iommu_drivers_list` walks them: the last registered first (`list_add()`). */
export const registered = (world: World): readonly VfioDriverName[] => [...world.vfio.config.drivers].reverse();

const kindName = (data: ContainerDriver): VfioDriverName => data.kind;

/** The driver a container opened, by name. */
export const opsOf = (data: ContainerDriver): DriverOps => DRIVERS[kindName(data)];
