/**
 * The model's state: one immutable snapshot of every process, open file, iommufd context and
 * object. Large collections are persistent ordered maps, so a command copies only what it
 * changes and a failed command can hand back the very snapshot it was given.
 */
import type { MachineRecord } from '../../machines/adapter.ts';
import type { AccessContext } from '../../machines/access.machine.ts';
import type { DeviceContext } from '../../machines/device.machine.ts';
import type { IoasContext } from '../../machines/ioas.machine.ts';
import type { RefContext } from '../../machines/object.machine.ts';
import type { GapTree } from './gap-tree.ts';
import type { BugName } from './mutants.ts';
import type { KernelProfile } from '../kernel/profile.ts';
import type { OrderedMap } from './ordered-map.ts';
import type { VfioState } from '../vfio/state.ts';

export interface ModelConfig {
  readonly pageSize: bigint;
  readonly hugepageSize: bigint;
  /** `declared`: only mapped user memory exists; `any`: every user address is anonymous memory. */
  readonly memory: 'declared' | 'any';
  /**
   * The bug switches on (src/model/mutants.ts): the deliberate ones, and those that re-create the
   * bugs of the release followed (src/kernel/release-bugs.ts). None in the newest release's faithful model.
   */
  readonly bugs: ReadonlySet<BugName>;
  /** The kernel release whose behaviour the model follows where releases differ (src/kernel/). */
  readonly kernel: KernelProfile;
}

/** A mapping in a process's address space (`MMAP`). */
export interface Mapping extends Range {
  readonly prot: bigint;
  readonly shared: boolean;
  readonly hugepage: boolean;
  /** A private mapping whose pages may still be shared copy-on-write with another process (after FORK). */
  readonly cow: boolean;
  /**
   * What backs it: an anonymous memory object (each MMAP makes one), a memfd (open file id),
   * or a named file; `offset` is in bytes from the object's start.
   */
  readonly backing:
    | { readonly kind: 'anon'; readonly object: number; readonly offset: bigint }
    | { readonly kind: 'memfd'; readonly file: number; readonly offset: bigint }
    | { readonly kind: 'named'; readonly path: string; readonly offset: bigint };
}

/**
 * Anonymous pages `[start, last]` of a private mapping, alike in all but their place: the
 * consecutive pages of memory object `obj` from page `index` (the page at `start`) on.
 */
export interface AnonRun extends Range {
  readonly obj: string;
  readonly index: bigint;
  /** Part of a compound (huge) page. */
  readonly compound: boolean;
  /** `PageAnonExclusive()`: no other process maps them, so a write or a pin keeps them. */
  readonly exclusive: boolean;
}

/** Private pages `[start, last]` a pin gave process `pid` its own copies of, in the command of copy generation `gen`. */
export interface CowBreak extends Range {
  readonly pid: number;
  readonly gen: number;
}

export interface Process {
  readonly pid: number;
  readonly uid: number;
  readonly caps: readonly string[];
  /** RLIMIT_MEMLOCK in bytes; `null` is RLIM_INFINITY. */
  readonly rlimitMemlock: bigint | null;
  /** fd number → open file id. */
  readonly fds: OrderedMap<number, number>;
  /** Mapping start → mapping, non-overlapping. */
  readonly mm: OrderedMap<bigint, Mapping>;
  /**
   * Private pages that are not simply their mapping's own: where this process got its own copy
   * (a write or a pin broke copy-on-write), or where FORK left it alone with a pinned page.
   * Runs by their first VA, never overlapping (src/mm/anon-runs.ts). Elsewhere a private page
   * is the mapping's, exclusive when the mapping is anonymous and not `cow`.
   */
  readonly anonPages: OrderedMap<bigint, AnonRun>;
  /** Pages charged to this mm's `locked_vm` (VmLck) by iommufd and by native VFIO containers (type1, SPAPR TCE). */
  readonly lockedVm: bigint;
  /** Pages charged to this mm's `pinned_vm` (VmPin) by iommufd. */
  readonly pinnedVm: bigint;
}

/** An open file description; `refs` counts the fd-table entries (of all processes) and kernel holders. */
export type OpenFile =
  | {
      readonly id: number;
      readonly refs: number;
      readonly kind: 'iommufd';
      readonly ctx: number;
      /** Opened as /dev/vfio/vfio, which iommufd serves: not a /dev/iommu fd for the default fd. */
      readonly container?: true;
    }
  | {
      readonly id: number;
      readonly refs: number;
      readonly kind: 'memfd';
      readonly size: bigint;
      readonly hugetlb: boolean;
    }
  /**
   * A dma-buf (`TEST_DMABUF_GET`, `VFIO_DEVICE_FEATURE` DMA_BUF) of `size` bytes in `ranges`
   * physical ranges: the selftest's kernel memory, or the BAR slices of a header device. Its
   * exporter has `revoked` it when the device went or the selftest said so.
   */
  | {
      readonly id: number;
      readonly refs: number;
      readonly kind: 'dmabuf';
      readonly size: bigint;
      readonly exporter: DmabufExporter;
      readonly ranges: number;
      readonly revoked: boolean;
    }
  /** A selftest access fd (`TEST_CREATE_ACCESS`): closing it destroys the access. */
  | { readonly id: number; readonly refs: number; readonly kind: 'access'; readonly ctx: number; readonly access: number }
  /** A FAULT or VEVENTQ object's fd: it holds the object and the context until closed. */
  | { readonly id: number; readonly refs: number; readonly kind: 'fault' | 'veventq'; readonly ctx: number; readonly object: number }
  /** A native VFIO container's /dev/vfio/vfio file. */
  | { readonly id: number; readonly refs: number; readonly kind: 'container'; readonly container: number }
  /** A VFIO group's /dev/vfio/N file. */
  | { readonly id: number; readonly refs: number; readonly kind: 'group'; readonly group: number }
  /**
   * A device file from `VFIO_GROUP_GET_DEVICE_FD`: header device `device` opened through group
   * `group`; `opened` is false for a no-IOMMU device on an iommufd, which the kernel hands out
   * without opening it.
   */
  | { readonly id: number; readonly refs: number; readonly kind: 'vfio-device'; readonly group: number; readonly device: number; readonly opened: boolean }
  /** Header device `device`'s cdev, /dev/vfio/devices/vfioN (format 1.1): `struct vfio_device_file` without a group. */
  | { readonly id: number; readonly refs: number; readonly kind: 'vfio-cdev'; readonly device: number }
  /** Any other file (the standard fds 0-2): it exists, iommufd ioctls on it get ENOTTY. */
  | { readonly id: number; readonly refs: number; readonly kind: 'other'; readonly path: string };

/** Who exported a dma-buf: the selftest (`iommufd_test_dmabuf_get()`), or VFIO for header device `device`. */
export type DmabufExporter = { readonly kind: 'selftest' } | { readonly kind: 'vfio'; readonly device: number };

export type AccountMode = 'default' | 'user' | 'mm';

/** A user range `[start, last]` (inclusive, as the kernel's interval trees store it). */
export interface Range {
  readonly start: bigint;
  readonly last: bigint;
}

/** A reserved IOVA range and who reserved it (spec §4.1: reserved ranges may overlap). */
export interface ReservedRange extends Range {
  /** `null` for selftest `ADD_RESERVED` ranges, which live until the IOAS goes. */
  readonly owner: string | null;
}

/** Something keeping indexes `[first, last]` of a pages object pinned: an area with a domain, or an access item. */
export interface Hold {
  readonly key: string;
  readonly first: bigint;
  readonly last: bigint;
}

/** Pinned indexes `[first, last]` of a pages object and the physical pages behind them, from `index` of `obj`. */
export interface PinRun {
  readonly first: bigint;
  readonly last: bigint;
  readonly obj: string;
  readonly index: bigint;
  readonly compound: boolean;
}

/** Memory backing one or more areas: one per `IOAS_MAP`, shared by `IOAS_COPY` (spec §5.1). */
export interface Pages {
  readonly id: number;
  /** `dmabuf`: device memory, never pinned or charged (`iopt_alloc_dmabuf_pages()`). */
  readonly kind: 'user' | 'file' | 'dmabuf';
  /** The user VA (or file or dma-buf offset) the map named, unaligned. */
  readonly start: bigint;
  readonly length: bigint;
  readonly writable: boolean;
  /** For file and dma-buf pages: the open file id. */
  readonly file: number | null;
  /** Areas referencing this pages object. */
  readonly areaRefs: number;
  /** The process whose memory it pins and who pays for it (`source_mm`, `source_task`). */
  readonly owner: number;
  /** The user charged in USER mode (`source_user`). */
  readonly ownerUid: number;
  /** `IOPT_PAGES_ACCOUNT_*`, fixed when the pages object is made (spec §5.1). */
  readonly account: 'none' | 'user' | 'mm';
  /** Pinned pages already charged to the owner (`last_npinned`). */
  readonly charged: bigint;
  readonly holds: readonly Hold[];
  /** The pinned indexes: the union of `holds`, ascending. */
  readonly pins: readonly PinRun[];
}

/** One mapping of the IO page table: `[iova, last]` backed by bytes of a pages object. */
export interface Area extends Range {
  readonly pages: number;
  /** Byte offset of `iova` from the page-aligned start of its pages object. */
  readonly startByte: bigint;
  /**
   * IOMMU_READ | IOMMU_WRITE (io-pagetable.ts), converted from the map's IOMMU_IOAS_MAP_* flags as
   * `conv_iommu_prot()` does; the IOMMU_CACHE it always adds is left out.
   */
  readonly prot: number;
}

/** `struct io_pagetable`: the IOVA space of one IOAS. */
export interface IoPagetable {
  /** Areas by first IOVA, never overlapping. */
  readonly areas: OrderedMap<bigint, Area>;
  /** Allowed ranges by start, never overlapping. */
  readonly allowed: OrderedMap<bigint, Range>;
  /** Every reservation with its owner, in insertion order. */
  readonly reserved: readonly ReservedRange[];
  /** The union of `reserved` as maximal disjoint ranges by start: what checks query. */
  readonly reservedSpans: OrderedMap<bigint, Range>;
  /**
   * `areas` and `reservedSpans` in one tree that finds the first hole that fits: the automatic
   * IOVA allocator's index, changed only with them (`changeUsed()`). Not state of its own.
   */
  readonly used: GapTree;
  readonly iovaAlignment: bigint;
}

export interface Ioas {
  readonly type: 'ioas';
  readonly id: number;
  readonly lifecycle: MachineRecord<IoasContext>;
  readonly iopt: IoPagetable;
  readonly hugePagesDisabled: boolean;
  /** HWPT_PAGING objects whose domain mirrors this IOAS, in creation order. */
  readonly domains: readonly number[];
  /** Accesses attached to this IOAS, in attach order. */
  readonly accesses: readonly number[];
}

/** What the IOMMU driver behind a device offers (the mock's constants, or a header device's parameters). */
export interface DeviceModel {
  /** The header device name, or `mock` for a selftest mock device. */
  readonly name: string;
  readonly kind: string;
  /** Devices of one IOMMU group share attachments; a mock device is its own group. */
  readonly group: string;
  /** The IOMMU instance: a vIOMMU or nested domain serves only devices behind the same one. */
  readonly iommu: string;
  /** MOCK_FLAGS_DEVICE_* of a mock device. */
  readonly mockFlags: bigint;
  /** Page sizes of the domains the driver allocates for it. */
  readonly pgsizeBitmap: bigint;
  /** IOVA aperture of those domains. */
  readonly aperture: Range;
  /** Reserved regions reported for the device (not direct-relaxable ones). */
  readonly reserved: readonly Range[];
  readonly maxPasidLog2: number;
  readonly dirty: boolean;
  readonly nesting: boolean;
}

/** An IOMMU domain as iommufd sees it. */
export interface Domain {
  readonly pgsizeBitmap: bigint;
  readonly aperture: Range;
  /** The driver (and IOMMU instance) that allocated it. */
  readonly iommu: string;
  readonly dirtyTracking: boolean;
}

export interface Device {
  readonly type: 'device';
  readonly id: number;
  readonly lifecycle: MachineRecord<DeviceContext>;
  readonly model: DeviceModel;
  /** PASID (0 = IOMMU_NO_PASID, the RID) → attached HWPT id. */
  readonly attached: OrderedMap<number, number>;
  /** The mock device's four cache entries (`TEST_DEV_CHECK_CACHE`). */
  readonly cache: readonly bigint[];
  /** Its VDEVICE (`idev->vdev`): a device has at most one, on any vIOMMU. */
  readonly vdevice: number | null;
  /** Mock driver: the vIOMMU and virtual id its RID's nested domain gave it (`mdev->viommu`, `vdev_id`). */
  readonly mockViommu: { readonly viommu: number; readonly virtId: bigint } | null;
  /** Mock driver: `pasid_1024_fake_error`, armed by a set at PASID 1024, fired by the next. */
  readonly pasid1024Armed: boolean;
  /** PASID → the attach handle this device made as the first of its group there (faults name it). */
  readonly handles: OrderedMap<number, number>;
  readonly nextHandle: number;
}

export interface HwptPaging {
  readonly type: 'hwpt_paging';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  readonly ioas: number;
  /** Created by attaching to an IOAS (destroyed with its last attachment), not by HWPT_ALLOC. */
  readonly auto: boolean;
  readonly nestParent: boolean;
  readonly pasidCompat: boolean;
  readonly fault: number | null;
  readonly domain: Domain;
  readonly dirtyEnabled: boolean;
  /** Dirty bits of the domain's PTEs, by IOVA (mock granules, `TEST_DIRTY`). */
  readonly dirty: readonly DirtyMark[];
}

/** A dirty granule of a domain, valid while the area that mapped it is still there. */
export interface DirtyMark {
  readonly iova: bigint;
  /** The mapping area (first IOVA, pages object) whose PTE carries the bit. */
  readonly area: bigint;
  readonly pages: number;
}

/** A nested (stage-1) HWPT on a nesting parent or a vIOMMU (`IOMMUFD_OBJ_HWPT_NESTED`). */
export interface HwptNested {
  readonly type: 'hwpt_nested';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  /** The HWPT_PAGING whose IOAS its stage 2 mirrors (`find_hwpt_paging()`). */
  readonly parent: number;
  /** The vIOMMU it was made through: it holds that instead of the parent. */
  readonly viommu: number | null;
  readonly pasidCompat: boolean;
  readonly fault: number | null;
  /** The driver (and IOMMU instance) that allocated its domain. */
  readonly iommu: string;
  /** The mock nested domain's four IOTLB entries (`MD_CHECK_IOTLB`); empty for other drivers. */
  readonly iotlb: readonly bigint[];
}

/** A vIOMMU (`IOMMUFD_OBJ_VIOMMU`): a slice of a physical IOMMU over a nesting parent. */
export interface Viommu {
  readonly type: 'viommu';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  readonly viommuType: bigint;
  /** The nesting parent HWPT_PAGING it holds. */
  readonly hwpt: number;
  readonly iommu: string;
  /** virt_id → VDEVICE id (`viommu->vdevs`). */
  readonly vdevs: OrderedMap<bigint, number>;
  /** The mmap region the mock registered for its user data (`out_mmap_offset`), if any. */
  readonly mmap: Range | null;
  /** The mock's HW queues by index (`mock_viommu->hw_queue[]`). */
  readonly hwQueues: OrderedMap<number, number>;
}

/** A VDEVICE (`IOMMUFD_OBJ_VDEVICE`): a device's virtual id on a vIOMMU. */
export interface Vdevice {
  readonly type: 'vdevice';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  readonly viommu: number;
  readonly device: number;
  readonly virtId: bigint;
}

/** A queued vIOMMU event, or the single "lost events" header. */
export type Vevent =
  | { readonly lost: false; readonly sequence: bigint; readonly virtId: bigint }
  | { readonly lost: true; readonly sequence: bigint };

/** A vEVENTQ (`IOMMUFD_OBJ_VEVENTQ`): a vIOMMU's event queue of one type, read through its fd. */
export interface Veventq {
  readonly type: 'veventq';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  readonly viommu: number;
  readonly veventqType: bigint;
  readonly depth: bigint;
  /** The deliver list, oldest first. */
  readonly events: readonly Vevent[];
  /** Queued events not counting the lost-events header (`num_events`). */
  readonly numEvents: bigint;
  /** The next record's sequence number (wraps from INT_MAX to 0). */
  readonly sequence: bigint;
}

/** One I/O page fault group: a single last-page request (`struct iopf_group`). */
export interface FaultGroup {
  /** The attach handle it came through: `${device}:${serial}` (`group->attach_handle`). */
  readonly handle: string;
  /** The handle's device (`dev_id` of the record). */
  readonly device: number;
  readonly flags: bigint;
  readonly pasid: bigint;
  readonly grpid: bigint;
  readonly perm: bigint;
  readonly addr: bigint;
}

/** A FAULT object (`IOMMUFD_OBJ_FAULT`): page faults of the HWPTs allocated with it. */
export interface Fault {
  readonly type: 'fault';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  /** Groups not yet read, oldest first (`common.deliver`). */
  readonly deliver: readonly FaultGroup[];
  /** Read groups awaiting a response, by cookie (`fault->response`). */
  readonly response: OrderedMap<number, FaultGroup>;
}

/** A HW queue (`IOMMUFD_OBJ_HW_QUEUE`) reading guest memory pinned by an internal access. */
export interface HwQueue {
  readonly type: 'hw_queue';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  readonly viommu: number;
  readonly index: number;
  /** The internal ACCESS that pins (and locks) the queue's pages. */
  readonly access: number;
  /** The HW queue of the previous index it depends on (mock). */
  readonly prev: number | null;
}

/** A VDEVICE id left reserved after its device was unbound (`iommufd_object_tombstone_user()`). */
export interface Tombstone {
  readonly type: 'tombstone';
  readonly id: number;
}

/** A selftest mock device object (`IOMMUFD_OBJ_SELFTEST`): destroying it unbinds its device. */
export interface SelftestDev {
  readonly type: 'selftest';
  readonly id: number;
  readonly lifecycle: MachineRecord<RefContext>;
  /** The bound mock device; 0 in 6.2 and 6.3, which bound none. */
  readonly device: number;
  /** 6.2 and 6.3: the HWPT of its own the object holds a user of; null after. */
  readonly ownHwpt: number | null;
}

/** What one access item pinned: a hold on each pages object its range covers. */
export interface AccessItem {
  readonly id: number;
  readonly iova: bigint;
  readonly length: bigint;
  /** One hold per area the range crosses: on that area's pages object, through that area. */
  readonly holds: readonly { readonly pages: number; readonly key: string; readonly area: bigint }[];
}

export interface Access {
  readonly type: 'access';
  readonly id: number;
  readonly lifecycle: MachineRecord<AccessContext>;
  readonly ioas: number | null;
  readonly needsPin: boolean;
  /** A kernel-internal access (a HW queue's): its pins lock their areas and it gets no unmap callback. */
  readonly internal: boolean;
  readonly items: OrderedMap<number, AccessItem>;
  /** Item ids count from 0 per access and are never reused. */
  readonly nextItem: number;
}

export type IommuObject =
  | Ioas
  | Device
  | HwptPaging
  | SelftestDev
  | Access
  | HwptNested
  | Viommu
  | Vdevice
  | Veventq
  | Fault
  | HwQueue
  | Tombstone;

/** A VFIO device declared in the trace header, and how its cdev is bound (spec §3.23). */
export interface HeaderDevice {
  readonly model: DeviceModel;
  /** The N of its /dev/vfio/devices/vfioN (header `cdev`), if the header gives it. */
  readonly cdev: number | null;
  /** The sizes of its PCI BARs 0-5 (header `bars`; 0: none), if the header gives them. */
  readonly bars: readonly bigint[] | null;
  /**
   * The context and DEVICE object `VFIO_DEVICE_BIND_IOMMUFD` bound it to (for a device of kind
   * `emulated`, the ACCESS object that stands for it), through the cdev fd `fd`, which is the
   * open file `file` when the cdev was opened with `OPEN`.
   */
  readonly bound: { readonly ctx: number; readonly device: number; readonly fd: number | null; readonly file?: number } | null;
  /** `vdev->iommufd_attached`: its RID (an emulated device's access) was attached through `ATTACH_IOMMUFD_PT`. */
  readonly ridAttached: boolean;
  /** `vdev->pasids`: the PASIDs attached through `ATTACH_IOMMUFD_PT`. */
  readonly pasids: readonly number[];
}

/**
 * The pages objects whose pins or area references changed in the command under way, and what
 * they owe their charge counters: pinned but not yet charged, less charged but no longer
 * pinned. Kept per counter so that a limit check costs a lookup, not a scan.
 */
export interface Unsettled {
  /** Pages object ids (the values mean nothing: a set). */
  readonly pages: OrderedMap<number, true>;
  /** Owed to `user->locked_vm`, by uid (USER accounting). */
  readonly user: OrderedMap<number, bigint>;
  /** Owed to `mm->locked_vm`, by the owner's pid (MM accounting). */
  readonly mm: OrderedMap<number, bigint>;
}

/** An iommufd context (`struct iommufd_ctx`): what one open of /dev/iommu holds. */
export interface Ctx {
  readonly id: number;
  /** Files keeping the context alive (its /dev/iommu file, access and event fds). */
  readonly holders: number;
  readonly objects: OrderedMap<number, IommuObject>;
  readonly pages: OrderedMap<number, Pages>;
  readonly nextPagesId: number;
  readonly accountMode: AccountMode;
  /** What the command under way changed in pins, not yet charged or uncharged. */
  readonly unsettled: Unsettled;
  /**
   * Copy-on-write the command's pins broke, not yet stored in the processes' `anonPages`, by
   * the order they broke in (0, 1, ...): a map, so that each pin adds its breaks in O(log n).
   */
  readonly cowBroken: OrderedMap<number, CowBreak>;
  /** The VFIO compatibility IOAS id (no reference held). */
  readonly vfioIoas: number | null;
  /** `no_iommu_mode`: a no-IOMMU VFIO group joined the context as its container. */
  readonly vfioNoIommu: boolean;
}

export interface World {
  readonly config: ModelConfig;
  /** The process an event without `pid` is issued by: the header's first. */
  readonly firstPid: number;
  /** The highest pid seen so far: an own-choice FORK takes the next. */
  readonly lastPid: number;
  readonly processes: OrderedMap<number, Process>;
  readonly files: OrderedMap<number, OpenFile>;
  readonly nextFileId: number;
  readonly contexts: OrderedMap<number, Ctx>;
  readonly nextCtxId: number;
  /** Pages charged to each uid's `user->locked_vm` by iommufd (USER accounting). */
  readonly userLockedVm: OrderedMap<number, bigint>;
  /** The next anonymous memory object's id; also the generation of the copies the next command makes. */
  readonly nextMemObject: number;
  /** The selftest module's temporary buffer limit (`TEST_SET_TEMP_MEMORY_LIMIT`), global. */
  readonly tempMemoryLimit: bigint;
  /** The header's VFIO devices, in declaration order. */
  readonly devices: readonly HeaderDevice[];
  /** How VFIO is set up, its groups and its native containers. */
  readonly vfio: VfioState;
}
