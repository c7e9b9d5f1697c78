/**
 * The state of legacy VFIO (drivers/vfio/group.c, container.c, vfio_iommu_type1.c): how the
 * traced host set VFIO up, its groups, its native containers and the IOMMU driver data a
 * container holds once `VFIO_SET_IOMMU` has opened a driver.
 *
 * A native type1 container is an accounting target of its own: it pins and charges every
 * mapping by itself, to the `locked_vm` of the mm that mapped it (`vfio_lock_acct()`), whatever
 * other containers or iommufd contexts pin of the same memory. `Type1.charged` keeps what it
 * charged per owner, so that a check of a process's `locked_vm` adds a few numbers per
 * container instead of walking mappings. SPAPR TCE's state, per container and per mm, is in
 * spapr-state.ts.
 */
import type { VfioDriverName } from '../../events/types.ts';
import type { OrderedMap } from '../model/ordered-map.ts';
import type { SpaprMm, SpaprPe, SpaprTce } from './spapr-state.ts';

/** How VFIO is built and set up on the traced host: the header's `env.vfio`, module parameters and devices' MSI isolation. */
export interface VfioConfig {
  /** What serves /dev/vfio/vfio: VFIO's own container, or iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER). */
  readonly container: 'native' | 'iommufd';
  /** The registered IOMMU drivers; `noiommu` stands for CONFIG_VFIO_NOIOMMU. */
  readonly drivers: readonly VfioDriverName[];
  /** `vfio.enable_unsafe_noiommu_mode`. */
  readonly noiommuMode: boolean;
  /** `vfio_iommu_type1.dma_entry_limit`, read by each container as it opens type1. */
  readonly dmaEntryLimit: bigint;
  /** `vfio_iommu_type1.allow_unsafe_interrupts`. */
  readonly type1UnsafeInterrupts: boolean;
  /** `iommufd.allow_unsafe_interrupts`. */
  readonly iommufdUnsafeInterrupts: boolean;
  /** The header devices, by index, whose MSIs the platform does not isolate (`msi_isolated: false`). */
  readonly msiNotIsolated: readonly number[];
}

/** A VFIO group (`struct vfio_group`): the header devices of one IOMMU group, /dev/vfio/N. */
export interface VfioGroup {
  readonly id: number;
  /** A no-IOMMU group (`VFIO_NO_IOMMU`), /dev/vfio/noiommu-N. */
  readonly noiommu: boolean;
  /** Its devices, as indexes of `World.devices`, in header order. */
  readonly devices: readonly number[];
  /** On a POWER host, the PE's table group (`iommu_group_get_iommudata()`); null for a group of no `spapr` device. */
  readonly pe: SpaprPe | null;
  /** The open file of the group (`group->opened_file`): at most one. */
  readonly opened: number | null;
  /** The native container it is attached to. */
  readonly container: number | null;
  /** The iommufd context it is attached to (`group->iommufd`). */
  readonly iommufd: number | null;
  /** `container_users`: 1 for the attachment, plus 1 per device opened through the group. */
  readonly containerUsers: number;
  /** How many times each device (parallel to `devices`) is open through the group (`open_count`). */
  readonly opens: readonly number[];
}

/** A native container (`struct vfio_container`), made by an open of /dev/vfio/vfio. */
export interface Container {
  readonly id: number;
  /** Its /dev/vfio/vfio file is open; a group keeps the container after that file is closed. */
  readonly fileOpen: boolean;
  /** Attached groups, most recent first (`group_list`). */
  readonly groups: readonly number[];
  /** Its groups are no-IOMMU groups. */
  readonly noiommu: boolean;
  /** The IOMMU driver `VFIO_SET_IOMMU` opened, until the last group goes. */
  readonly driver: ContainerDriver | null;
}

export type ContainerDriver =
  | { readonly kind: 'type1'; readonly iommu: Type1 }
  | { readonly kind: 'spapr_tce'; readonly iommu: SpaprTce }
  | { readonly kind: 'noiommu' };

/** An inclusive IOVA range `[start, last]`. */
export interface IovaRange {
  readonly start: bigint;
  readonly last: bigint;
}

/** `struct vfio_iommu`: a type1 container's IO address space. */
export interface Type1 {
  /** Opened as VFIO_TYPE1v2_IOMMU. */
  readonly v2: boolean;
  /** `domain_list`, the most recent first. */
  readonly domains: readonly Type1Domain[];
  /** `iova_list`: the usable IOVA ranges, ascending. */
  readonly iovaList: readonly IovaRange[];
  /** `dma_list`: the mappings by first IOVA, never overlapping. */
  readonly dmas: OrderedMap<bigint, VfioDma>;
  /** `dma_avail`: how many more mappings `dma_entry_limit` allows. */
  readonly dmaAvail: bigint;
  /** `vaddr_invalid_count`. */
  readonly vaddrInvalid: number;
  readonly pgsizeBitmap: bigint;
  readonly dirtyTracking: boolean;
  /** Pages charged to each mm's `locked_vm`, by owner pid: the sum of its mappings' `lockedVm`. */
  readonly charged: OrderedMap<number, bigint>;
}

/** `struct vfio_domain`: one IOMMU domain and the groups attached to it. */
export interface Type1Domain {
  /** The IOMMU driver (`domain->ops`) that made it: groups behind the same one share it. */
  readonly iommu: string;
  readonly pgsizeBitmap: bigint;
  readonly aperture: IovaRange;
  /** Attached groups, most recent first. */
  readonly groups: readonly number[];
}

/** Physical pages a mapping pinned: `count` pages from `index` of memory object `obj`. */
export interface DmaPin {
  readonly obj: string;
  readonly index: bigint;
  readonly count: bigint;
  readonly compound: boolean;
}

/** `struct vfio_dma`: one mapping `[start, last]` of IOVA. */
export interface VfioDma {
  readonly start: bigint;
  readonly last: bigint;
  readonly vaddr: bigint;
  /** IOMMU_READ | IOMMU_WRITE. */
  readonly prot: number;
  readonly vaddrInvalid: boolean;
  /** The process whose mm is charged (`dma->task`, `dma->mm`). */
  readonly owner: number;
  /** CAP_IPC_LOCK when it was mapped or re-owned (`dma->lock_cap`). */
  readonly lockCap: boolean;
  /** Pages charged (`dma->locked_vm`). */
  readonly lockedVm: bigint;
  readonly pins: readonly DmaPin[];
}

/**
 * VFIO's part of the world: how the host set it up, its groups by number, its native
 * containers, and what SPAPR TCE containers pre-registered in each mm, by pid.
 */
export interface VfioState {
  readonly config: VfioConfig;
  readonly groups: OrderedMap<number, VfioGroup>;
  readonly containers: OrderedMap<number, Container>;
  readonly nextContainer: number;
  readonly spaprMms: OrderedMap<number, SpaprMm>;
}
