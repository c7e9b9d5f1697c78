/**
 * The state of the SPAPR TCE IOMMU driver (drivers/vfio/vfio_iommu_spapr_tce.c) and of the
 * memory POWER pre-registers per process (arch/powerpc/mm/book3s64/iommu_api.c).
 *
 * Three things are charged to an mm's `locked_vm`, each kept where the kernel keeps it:
 * - a pre-registered region's pages, once per mm however many containers, windows and TCEs use
 *   it (`SpaprMm.regions`, charged by `mm_iommu_new()`, uncharged when its last user goes);
 * - a v1 container's whole 32-bit window, at `VFIO_IOMMU_ENABLE` (`SpaprTce.lockedPages`);
 * - each DMA window's TCE table memory, to the container's mm (`TceTable.charged`).
 * A check of a process's `locked_vm` adds a few numbers per container and per region.
 */
import type { OrderedMap } from '../model/ordered-map.ts';
import type { DmaPin } from './state.ts';

/**
 * The PE behind a VFIO group on a POWER host (`struct iommu_table_group`), as PowerNV IODA2
 * sets it up (`pnv_pci_ioda2_setup_dma_pe()`): the header's `spapr` device properties.
 */
export interface SpaprPe {
  /** The default 32-bit window: `tce32_start`, `tce32_size` (bytes). */
  readonly tce32Start: bigint;
  readonly tce32Size: bigint;
  /** Where the second window starts (`pe->tce_bypass_base`). */
  readonly tce64Start: bigint;
  /** The IOMMU page sizes the PHB takes, a bit per size (`pgsizes`). */
  readonly pgsizes: bigint;
  readonly maxDynamicWindows: bigint;
  readonly maxLevels: bigint;
}

/** DMA directions of a TCE (`enum dma_data_direction`): READ alone is TO_DEVICE, WRITE alone FROM_DEVICE. */
export type TceDirection = 'bidirectional' | 'to_device' | 'from_device';

/**
 * Consecutive TCEs `[start, last]` (entry numbers, an entry being a bus address shifted by the
 * window's page shift) mapping consecutive IOMMU pages of user memory from `ua`.
 */
export interface TceRun {
  readonly start: bigint;
  readonly last: bigint;
  readonly ua: bigint;
  readonly direction: TceDirection;
  /** v2: the pre-registered region (its key in the mm's list) whose `mapped` count each TCE raises. */
  readonly region: bigint | null;
  /** v1: the pages each TCE pinned (`tce_iommu_use_page()`), the system pages under the run. */
  readonly pins: readonly DmaPin[];
}

/** `struct iommu_table`: one DMA window and its TCEs. */
export interface TceTable {
  /** `it_offset`: the window's first entry. */
  readonly offset: bigint;
  /** `it_size`: how many entries it has. */
  readonly size: bigint;
  readonly pageShift: number;
  readonly levels: number;
  /** Pages of `locked_vm` its memory costs (`it_allocated_size >> PAGE_SHIFT`). */
  readonly charged: bigint;
  /** The TCEs set, by first entry. A MAP may write past the last entry (see spapr-tce.ts). */
  readonly tces: OrderedMap<bigint, TceRun>;
}

/** `struct tce_container`: a native container's SPAPR TCE driver data. */
export interface SpaprTce {
  readonly v2: boolean;
  /** v1: `VFIO_IOMMU_ENABLE`d; v2: has registered memory once. MAP and UNMAP need it. */
  readonly enabled: boolean;
  /** The default window is still to be made (lazily, by the next MAP, UNMAP or CREATE). */
  readonly defWindowPending: boolean;
  /** v1: the pages `VFIO_IOMMU_ENABLE` charged (`locked_pages`). */
  readonly lockedPages: bigint;
  /** The pid of the mm bound on first use (`tce_iommu_mm_set()`); later ioctls from another mm are EPERM. */
  readonly mm: number | null;
  /** `tables[IOMMU_TABLE_GROUP_MAX_TABLES]`: the two window slots. */
  readonly tables: readonly [TceTable | null, TceTable | null];
  /** `group_list`, most recent first. */
  readonly groups: readonly number[];
}

/** A pre-registered region (`struct mm_iommu_table_group_mem_t`). */
export interface PreregRegion {
  readonly ua: bigint;
  /** Its size in pages (`entries`), charged to the mm while it is listed. */
  readonly entries: bigint;
  /** `used`: the references taken by containers (`mm_iommu_get()`, `mm_iommu_new()`). */
  readonly used: number;
  /**
   * The containers whose `prereg_list` has it, most recent first. `used` counts one more than
   * these when an unregister or a release left a reference no container holds.
   */
  readonly holders: readonly number[];
  /** TCEs of any container of the mm that point into it (`mapped` less its bias of 1). */
  readonly mapped: bigint;
  /**
   * Of `mapped`, TCEs no table holds any more: written past a window's last entry, they went
   * with the window's table uncleared, and nothing will lower the count again.
   */
  readonly stranded: bigint;
  /** The largest IOMMU page shift it backs (`pageshift`). */
  readonly pageShift: number;
  readonly pins: readonly DmaPin[];
}

/** The SPAPR part of one mm (`mm->context`). */
export interface SpaprMm {
  /** `iommu_group_mem_list`, by `regionKey(ua, entries)`: regions never overlap, and none is empty. */
  readonly regions: OrderedMap<bigint, PreregRegion>;
  /** Pages charged for TCE tables whose creation then failed, never given back (`tce_iommu_create_table()`). */
  readonly leakedTablePages: bigint;
}
