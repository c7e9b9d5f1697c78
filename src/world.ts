/**
 * The model's state: one immutable snapshot of every process, open file, iommufd context and
 * object. Large collections are persistent ordered maps, so a command copies only what it
 * changes and a failed command can hand back the very snapshot it was given.
 */
import type { MachineRecord } from '../machines/adapter.ts';
import type { IoasContext } from '../machines/ioas.machine.ts';
import type { OrderedMap } from './ordered-map.ts';

export interface ModelConfig {
  readonly pageSize: bigint;
  readonly hugepageSize: bigint;
  /** `declared`: only mapped user memory exists; `any`: every user address is anonymous memory. */
  readonly memory: 'declared' | 'any';
}

/** A mapping in a process's address space (`MMAP`). */
export interface Mapping extends Range {
  readonly prot: bigint;
  readonly shared: boolean;
  readonly hugepage: boolean;
  /** What backs it: anonymous memory, a memfd (open file id), or a named file. */
  readonly backing:
    | { readonly kind: 'anon' }
    | { readonly kind: 'memfd'; readonly file: number; readonly offset: bigint }
    | { readonly kind: 'named'; readonly path: string; readonly offset: bigint };
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
}

/** An open file description; `refs` counts the fd-table entries (of all processes) and kernel holders. */
export type OpenFile =
  | { readonly id: number; readonly refs: number; readonly kind: 'iommufd'; readonly ctx: number }
  | {
      readonly id: number;
      readonly refs: number;
      readonly kind: 'memfd';
      readonly size: bigint;
      readonly hugetlb: boolean;
    }
  /** Any other file (the standard fds 0-2): it exists, iommufd ioctls on it get ENOTTY. */
  | { readonly id: number; readonly refs: number; readonly kind: 'other'; readonly path: string };

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

/** Memory backing one or more areas: one per `IOAS_MAP`, shared by `IOAS_COPY` (spec §5.1). */
export interface Pages {
  readonly id: number;
  readonly kind: 'user' | 'file';
  /** The user VA (or file offset) the map named, unaligned. */
  readonly start: bigint;
  readonly length: bigint;
  readonly writable: boolean;
  /** For file pages: the open file id. */
  readonly file: number | null;
  /** Areas referencing this pages object. */
  readonly areaRefs: number;
}

/** One mapping of the IO page table: `[iova, last]` backed by bytes of a pages object. */
export interface Area extends Range {
  readonly pages: number;
  /** Byte offset of `iova` from the page-aligned start of its pages object. */
  readonly startByte: bigint;
  /** IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE bits the area was mapped with. */
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
}

export type IommuObject = Ioas;

/** An iommufd context (`struct iommufd_ctx`): what one open of /dev/iommu holds. */
export interface Ctx {
  readonly id: number;
  /** Files keeping the context alive (its /dev/iommu file, access and event fds). */
  readonly holders: number;
  readonly objects: OrderedMap<number, IommuObject>;
  readonly pages: OrderedMap<number, Pages>;
  readonly nextPagesId: number;
  readonly accountMode: AccountMode;
  /** The VFIO compatibility IOAS id (no reference held). */
  readonly vfioIoas: number | null;
}

export interface World {
  readonly config: ModelConfig;
  /** The process an event without `pid` is issued by: the header's first. */
  readonly firstPid: number;
  readonly processes: OrderedMap<number, Process>;
  readonly files: OrderedMap<number, OpenFile>;
  readonly nextFileId: number;
  readonly contexts: OrderedMap<number, Ctx>;
  readonly nextCtxId: number;
  /** The selftest module's temporary buffer limit (`TEST_SET_TEMP_MEMORY_LIMIT`), global. */
  readonly tempMemoryLimit: bigint;
}
