/**
 * The parsed form of a trace (`trace-format.md`). The reader produces these, the
 * writer consumes them, and the model only ever sees this form: numbers are bigint, names are
 * resolved, defaults are filled in.
 */
import type { FormatVersion } from './version.ts';

/** A value in parsed arguments or outputs. Every number of the trace is a bigint here. */
export type Value =
  | bigint
  | boolean
  | string
  | null
  | readonly Value[]
  | { readonly [key: string]: Value };

export type Fields = { readonly [key: string]: Value };

export type ScalarType = 'u8' | 'u16' | 'u32' | 's32' | 'u64';

/** One member of a kernel uapi struct. */
export interface FieldSpec {
  /**
   * The kernel's member name. A member of a named inner struct or union member is written
   * `outer.inner` (`check_dev_cache.id`, `ddw.levels`): the trace and the parsed fields hold it
   * as a nested record under `outer`.
   */
  readonly name: string;
  /** Byte offset inside the struct. */
  readonly offset: number;
  /** Width and signedness; a `u8 x[3]` array is one field of type `u8` with `count: 3` read as a little-endian integer. */
  readonly type: ScalarType;
  readonly count?: number;
  /** `in`: read by the kernel; `out`: written back; `inout`: both. */
  readonly dir: 'in' | 'out' | 'inout';
  /** The field accepts names: a flag family (an array of names, OR-ed) or an enum family (one name). */
  readonly names?: { readonly kind: 'flags' | 'enum'; readonly family: string };
  /**
   * The field is a user pointer. `array`: the trace writes the input array inline (its element
   * struct and the count field beside it); `data`: typed driver data written inline as `data`;
   * `buffer`: an output buffer whose address the trace gives (the kernel writes there).
   */
  readonly pointer?:
    | { readonly kind: 'array'; readonly element: StructSpec; readonly countField: string }
    /** `countField`: the count beside an inline array of entries (`entry_num`), defaulting to its length. */
    | { readonly kind: 'data'; readonly countField?: string }
    | { readonly kind: 'buffer'; readonly element?: StructSpec };
}

/** A kernel uapi struct: the argument of one ioctl. */
export interface StructSpec {
  readonly name: string;
  /** `sizeof(struct ...)`. */
  readonly size: number;
  /** The smallest size the kernel accepts (`offsetofend` of the last mandatory field). */
  readonly minSize: number;
  /** The field holding the caller's struct size: `size` (iommufd), `argsz` (VFIO), or none. */
  readonly sizeField: 'size' | 'argsz' | null;
  readonly fields: readonly FieldSpec[];
}

/** How one op's arguments are described. */
export type ArgsLayout =
  /** An ioctl whose argument is a struct (iommufd, VFIO, selftest). */
  | {
      readonly kind: 'struct';
      readonly struct: StructSpec;
      /** Arguments outside the struct (a VFIO device op's `dev`). */
      readonly extra?: readonly EnvArgSpec[];
      /** Outputs outside the struct (`ret`, the ioctl's return value, for `TEST_DMABUF_GET`). */
      readonly outs?: readonly EnvArgSpec[];
    }
  /** An environment op or an ioctl with a plain argument: named arguments of this format's own. */
  | { readonly kind: 'plain'; readonly args: readonly EnvArgSpec[]; readonly outs: readonly EnvArgSpec[] };

export interface EnvArgSpec {
  readonly name: string;
  /** `rlimit`: bytes, or `"unlimited"` (parsed as `null`). */
  readonly type: 'u64' | 'u32' | 's32' | 'bool' | 'string' | 'strings' | 'records' | 'flags' | 'enum' | 'rlimit';
  /** For `flags`/`enum`: the name family. For `string`/`strings`: the allowed names. */
  readonly family?: string;
  readonly allowed?: readonly string[];
  /** `null` is a value of its own (`IOCTL`'s `arg`: a NULL argument). */
  readonly nullable?: boolean;
}

export type OpFamily = 'iommufd' | 'vfio-container' | 'vfio-device' | 'selftest' | 'env' | 'raw';

export interface OpSpec {
  /** The op name as the trace writes it (`IOAS_MAP`, `VFIO_IOMMU_MAP_DMA`, `TEST_ACCESS_PAGES`, `MMAP`). */
  readonly op: string;
  readonly family: OpFamily;
  /** The ioctl number (x86 encoding) for ioctl ops. */
  readonly ioctl?: number;
  /** `IOMMU_TEST_OP_*` for selftest ops. */
  readonly testOp?: number;
  readonly layout: ArgsLayout;
}

/** Parsed `args` of an event. */
export interface EventArgs {
  /** The struct size the caller declared (`size`/`argsz`); `sizeof` when omitted; 0 for plain ops. */
  readonly size: number;
  /**
   * Struct ops: every field of the struct by name, omitted ones filled in (0n, or the inline
   * array's length for a count field). A NULL pointer is `null`; an inline input array is an
   * array of records; inline driver data is `data` (its pointer field, which the trace then
   * leaves out, stays `null`), kept as given (numbers as bigint, a hex byte string as the
   * string). Arguments outside the struct (`dev`) only when given. Plain ops: the arguments
   * given, by name (omitted ones absent).
   */
  readonly fields: Fields;
  /**
   * The bytes between `sizeof` and `size`, in memory order. Empty when they are all zero (also
   * when `__trailing` is omitted), so a huge `size` costs nothing; otherwise `size - sizeof` long.
   */
  readonly trailing: Uint8Array;
}

/** What the real system returned, as the trace records it. */
export interface Expectation {
  /** An errno name, or `*` for "failed, errno not recorded"; absent for a success. */
  readonly errno?: string;
  /** Output fields observed, by the kernel's field names. */
  readonly out?: Fields;
}

export interface TraceEvent {
  /** The line of the file, from 1 (the header is line 1). */
  readonly line: number;
  readonly seq: number | null;
  readonly pid?: number;
  readonly fd?: number;
  readonly op: string;
  /** `null` for `"args": null` (a NULL argument pointer). */
  readonly args: EventArgs | null;
  readonly expect?: Expectation;
  /** `true`, or the `expect.out` fields recorded rather than observed. */
  readonly inferred?: true | readonly string[];
  readonly unsure: boolean;
  readonly failNth?: number;
  /** Every other top-level key of the line, kept verbatim (`note`, `ts`, `tid`, ...). */
  readonly extra: { readonly [key: string]: unknown };
}

export interface ProcessDecl {
  readonly pid: number;
  readonly uid: number;
  /** Bytes; `null` for `"unlimited"`. */
  readonly rlimitMemlock: bigint | null;
  readonly caps: readonly string[];
}

export interface DeviceDecl {
  readonly name: string;
  readonly kind: string;
  /** Every other key of the device entry, parsed as values. */
  readonly params: Fields;
}

export interface TraceEnv {
  readonly pageSize: bigint;
  readonly hugepageSize: bigint;
  readonly memory: 'declared' | 'any';
  /** Memory present before the first event, as `MMAP` arguments. */
  readonly mappings: readonly Fields[];
  readonly processes: readonly ProcessDecl[];
  readonly devices: readonly DeviceDecl[];
  readonly extra: { readonly [key: string]: unknown };
}

export interface TraceHeader {
  /** The version the header declares; the events are read with every version the reader knows. */
  readonly version: FormatVersion;
  readonly env: TraceEnv;
  readonly kernel?: string;
  readonly params: Fields;
  readonly extra: { readonly [key: string]: unknown };
}
