/**
 * The state as `inspect --json` prints it (docs/inspect.md; docs/inspect.schema.json is its
 * JSON Schema). Addresses, lengths and byte counters are hex strings, as traces write them;
 * ids, fds, pids, uids, page indexes and page counts are numbers. A process's and a uid's
 * counters are in bytes, as `CHECK` compares them; everything else counts pages.
 *
 * These are the documented schema, not the model's types (src/model/world.ts): the model keeps
 * bigints, internal context ids, persistent maps and camelCase fields, and changes as it grows;
 * the schema names contexts `PID:FD`, writes hex, and changes only with its documentation. The
 * fields are therefore spelled out here; only the closed sets of names printed as the model has
 * them are taken from it (a name added there must be added to docs/inspect.schema.json too).
 */
import type { AccountMode, Pages } from '../../src/model/world.ts';
import type { Outcome } from '../replayer.ts';

export type Hex = string;

export interface RangeView {
  readonly start: Hex;
  readonly last: Hex;
}

export interface EventRef {
  /** The event's trace line; the header's line for the state before the first event. */
  readonly line: number;
  /** The line of the capture the event was imported from (format 1.1 `source_line`), when the trace says. */
  readonly source_line?: number;
  readonly seq: number | null;
  /** null for the state before the first event. */
  readonly op: string | null;
  /** How the event replayed (`replay`'s classification); null before the first event. */
  readonly outcome: Outcome | null;
  /** The errno the model's answer carried; null for a success, an event not run, and before the first event. */
  readonly errno: string | null;
}

export type FdView = { readonly fd: number; readonly file: number } & (
  | { readonly kind: 'iommufd'; readonly ctx: string; readonly container: boolean }
  | { readonly kind: 'memfd'; readonly size: Hex; readonly hugetlb: boolean }
  /** `exporter`: `selftest`, or the header device whose BAR it exports. */
  | { readonly kind: 'dmabuf'; readonly size: Hex; readonly exporter: string; readonly ranges: number; readonly revoked: boolean }
  | { readonly kind: 'access'; readonly ctx: string; readonly access: number }
  | { readonly kind: 'fault' | 'veventq'; readonly ctx: string; readonly object: number }
  | { readonly kind: 'container'; readonly container: number }
  | { readonly kind: 'group'; readonly group: number }
  | { readonly kind: 'vfio-device'; readonly group: number; readonly device: string; readonly opened: boolean }
  | { readonly kind: 'vfio-cdev'; readonly device: string }
  | { readonly kind: 'other'; readonly path: string }
);

export interface MappingView extends RangeView {
  /** PROT_READ | PROT_WRITE | PROT_EXEC bits. */
  readonly prot: Hex;
  readonly shared: boolean;
  readonly hugepage: boolean;
  readonly cow: boolean;
  readonly backing:
    | { readonly kind: 'anon'; readonly object: number; readonly offset: Hex }
    | { readonly kind: 'memfd'; readonly file: number; readonly offset: Hex }
    | { readonly kind: 'named'; readonly path: string; readonly offset: Hex };
}

export interface ProcessView {
  readonly pid: number;
  readonly uid: number;
  readonly caps: readonly string[];
  /** Bytes; null is RLIM_INFINITY. */
  readonly rlimit_memlock: Hex | null;
  /** Bytes (VmLck). */
  readonly locked_vm: Hex;
  /** Bytes (VmPin). */
  readonly pinned_vm: Hex;
  readonly fds: readonly FdView[];
  readonly mappings: readonly MappingView[];
}

export interface UserView {
  readonly uid: number;
  /** Bytes charged to the uid's `user->locked_vm` (USER accounting). */
  readonly locked_vm: Hex;
}

export interface AreaView {
  readonly iova: Hex;
  readonly last: Hex;
  /** The pages object behind it. */
  readonly pages: number;
  /** Byte offset of `iova` from the page-aligned start of the pages object. */
  readonly start_byte: Hex;
  /** What the IO page table lets devices do there: IOMMU_READ and IOMMU_WRITE, as `READ`, `WRITE`. */
  readonly prot: readonly string[];
}

export interface ReservedView extends RangeView {
  /** `hwpt:N` (outside a domain's aperture), `dev:N` (a device's reserved region), or null (selftest). */
  readonly owner: string | null;
}

interface ObjectCommon {
  readonly id: number;
  /** The object's lifecycle state (`live`, `empty`, `populated`, `attached`, ...). */
  readonly state: string;
  /** `users`: the object table's reference plus every holder's. */
  readonly users: number;
}

export interface IoasView extends ObjectCommon {
  readonly type: 'ioas';
  readonly areas: readonly AreaView[];
  readonly allowed: readonly RangeView[];
  readonly reserved: readonly ReservedView[];
  readonly iova_alignment: Hex;
  readonly huge_pages_disabled: boolean;
  /** HWPT_PAGING ids whose domains mirror it. */
  readonly domains: readonly number[];
  readonly accesses: readonly number[];
}

export interface DeviceView extends ObjectCommon {
  readonly type: 'device';
  /** The header device's name, or `mock`. */
  readonly name: string;
  readonly kind: string;
  readonly group: string;
  readonly iommu: string;
  readonly attached: readonly { readonly pasid: number; readonly hwpt: number }[];
  readonly vdevice: number | null;
}

export interface DomainView {
  readonly pgsize_bitmap: Hex;
  readonly aperture: RangeView;
  readonly iommu: string;
  readonly dirty_tracking: boolean;
}

export interface HwptPagingView extends ObjectCommon {
  readonly type: 'hwpt_paging';
  readonly ioas: number;
  readonly auto: boolean;
  readonly nest_parent: boolean;
  readonly pasid_compat: boolean;
  readonly fault: number | null;
  readonly domain: DomainView;
  readonly dirty_enabled: boolean;
  /** Dirty granules recorded. */
  readonly dirty: number;
}

export interface HwptNestedView extends ObjectCommon {
  readonly type: 'hwpt_nested';
  readonly parent: number;
  readonly viommu: number | null;
  readonly pasid_compat: boolean;
  readonly fault: number | null;
  readonly iommu: string;
}

export interface ViommuView extends ObjectCommon {
  readonly type: 'viommu';
  readonly viommu_type: Hex;
  readonly hwpt: number;
  readonly iommu: string;
  readonly vdevices: readonly { readonly virt_id: Hex; readonly vdevice: number }[];
  readonly hw_queues: readonly { readonly index: number; readonly hw_queue: number }[];
}

export interface VdeviceView extends ObjectCommon {
  readonly type: 'vdevice';
  readonly viommu: number;
  readonly device: number;
  readonly virt_id: Hex;
}

export interface VeventqView extends ObjectCommon {
  readonly type: 'veventq';
  readonly viommu: number;
  readonly veventq_type: Hex;
  readonly depth: number;
  /** Events queued, the lost-events header not counted. */
  readonly queued: number;
  readonly lost: boolean;
}

export interface FaultView extends ObjectCommon {
  readonly type: 'fault';
  /** Fault groups not yet read. */
  readonly queued: number;
  /** Read groups awaiting a response. */
  readonly awaiting_response: number;
}

export interface HwQueueView extends ObjectCommon {
  readonly type: 'hw_queue';
  readonly viommu: number;
  readonly index: number;
  /** The internal access pinning its memory. */
  readonly access: number;
  readonly prev: number | null;
}

export interface SelftestView extends ObjectCommon {
  readonly type: 'selftest';
  /** The bound mock device; null in 6.2 and 6.3, whose mock domain bound none. */
  readonly device: number | null;
  /** 6.2 and 6.3: the HWPT the object made and holds; absent from 6.4. */
  readonly own_hwpt?: number;
}

export interface AccessItemView {
  readonly id: number;
  readonly iova: Hex;
  readonly length: Hex;
  /** The pages objects it holds pinned. */
  readonly pages: readonly number[];
}

export interface AccessView extends ObjectCommon {
  readonly type: 'access';
  readonly ioas: number | null;
  readonly needs_pin: boolean;
  readonly internal: boolean;
  readonly items: readonly AccessItemView[];
}

/** A VDEVICE id left reserved after its device was unbound: no lifecycle, no users. */
export interface TombstoneView {
  readonly type: 'tombstone';
  readonly id: number;
}

export type ObjectView =
  | IoasView
  | DeviceView
  | HwptPagingView
  | HwptNestedView
  | ViommuView
  | VdeviceView
  | VeventqView
  | FaultView
  | HwQueueView
  | SelftestView
  | AccessView
  | TombstoneView;

export interface PagesView {
  readonly id: number;
  /** `dmabuf`: device memory, never pinned or charged. */
  readonly kind: Pages['kind'];
  /** The user VA (or file or dma-buf offset) and length the map named. */
  readonly start: Hex;
  readonly length: Hex;
  readonly writable: boolean;
  /** For file and dma-buf pages: the open file id. */
  readonly file: number | null;
  /** The process whose memory it pins and who pays. */
  readonly owner: number;
  readonly owner_uid: number;
  readonly account: Pages['account'];
  readonly area_refs: number;
  readonly pinned_pages: number;
  readonly charged_pages: number;
  /** What keeps page indexes `[first, last]` pinned: `area:IOAS:IOVA:LAST` or `acc:ACCESS:ITEM:IOVA`. */
  readonly holds: readonly { readonly key: string; readonly first: number; readonly last: number }[];
}

export interface ContextView {
  /** Internal; the name is what the user sees. */
  readonly id: number;
  /** `PID:FD`: the lowest pid, then its lowest fd, whose file holds the context; `#ID` when no fd does. */
  readonly name: string;
  readonly holders: number;
  readonly account_mode: AccountMode;
  /** The VFIO compatibility IOAS. */
  readonly vfio_ioas: number | null;
  readonly objects: readonly ObjectView[];
  readonly pages: readonly PagesView[];
}

export interface HeaderDeviceView {
  readonly name: string;
  readonly kind: string;
  readonly group: string;
  readonly cdev: number | null;
  /** The context and DEVICE object it is bound to. */
  readonly bound: { readonly ctx: string; readonly device: number } | null;
  readonly rid_attached: boolean;
  readonly pasids: readonly number[];
}

export interface VfioGroupView {
  readonly id: number;
  readonly noiommu: boolean;
  readonly devices: readonly string[];
  /** The open file of /dev/vfio/N. */
  readonly opened: number | null;
  readonly container: number | null;
  /** The iommufd context it is attached to. */
  readonly iommufd: string | null;
  readonly container_users: number;
}

export interface Type1DmaView {
  readonly iova: Hex;
  readonly last: Hex;
  readonly vaddr: Hex;
  /** IOMMU_READ | IOMMU_WRITE. */
  readonly prot: number;
  readonly vaddr_invalid: boolean;
  readonly owner: number;
  readonly locked_pages: number;
}

export interface TceWindowView {
  readonly slot: number;
  readonly offset: Hex;
  readonly size: Hex;
  readonly page_shift: number;
  readonly levels: number;
  readonly charged_pages: number;
  /** Runs of TCEs set. */
  readonly tce_runs: number;
}

export type ContainerDriverView =
  | { readonly kind: 'type1'; readonly v2: boolean; readonly dma_avail: number; readonly dmas: readonly Type1DmaView[]; readonly charged: readonly { readonly pid: number; readonly pages: number }[] }
  | { readonly kind: 'spapr_tce'; readonly v2: boolean; readonly enabled: boolean; readonly locked_pages: number; readonly mm: number | null; readonly windows: readonly TceWindowView[] }
  | { readonly kind: 'noiommu' };

export interface ContainerView {
  readonly id: number;
  readonly file_open: boolean;
  readonly groups: readonly number[];
  readonly noiommu: boolean;
  readonly driver: ContainerDriverView | null;
}

export interface SpaprMmView {
  readonly pid: number;
  readonly regions: readonly { readonly ua: Hex; readonly entries: number; readonly used: number; readonly mapped: number }[];
  readonly leaked_table_pages: number;
}

export interface VfioView {
  readonly container: 'native' | 'iommufd';
  readonly drivers: readonly string[];
  readonly groups: readonly VfioGroupView[];
  readonly containers: readonly ContainerView[];
  readonly spapr_mms: readonly SpaprMmView[];
}

export interface StateView {
  /** The kernel release the model follows where releases differ. */
  readonly kernel: string;
  readonly processes: readonly ProcessView[];
  readonly users: readonly UserView[];
  readonly contexts: readonly ContextView[];
  readonly devices: readonly HeaderDeviceView[];
  readonly vfio: VfioView;
}

/** An IOVA window of one IOAS: the areas, allowed ranges and reservations meeting it, and the pages objects of those areas. */
export interface IoasWindowView {
  readonly ioas: number;
  readonly window: RangeView;
  readonly areas: readonly AreaView[];
  readonly allowed: readonly RangeView[];
  readonly reserved: readonly ReservedView[];
  readonly pages: readonly PagesView[];
}

/** What `--select` narrows the state to. */
export type SelectionView =
  | { readonly kind: 'context'; readonly context: ContextView }
  | { readonly kind: 'object'; readonly context: string; readonly object: ObjectView; readonly pages: readonly PagesView[] }
  | (IoasWindowView & { readonly kind: 'window'; readonly context: string });

/** `inspect --json`: the state after one event, whole or narrowed by `--select`. */
export type InspectDocument = { readonly file: string; readonly at: EventRef } & (
  | { readonly state: StateView }
  | { readonly select: string; readonly selection: SelectionView }
);
