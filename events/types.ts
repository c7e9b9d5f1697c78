/**
 * The parsed form of a trace (`trace-format.md`). The reader produces these, the
 * writer consumes them, and the model only ever sees this form: numbers are bigint, names are
 * resolved, defaults are filled in.
 */
import type { OpName } from './ops.ts';
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
  readonly op: OpName;
  /** `null` for `"args": null` (a NULL argument pointer). */
  readonly args: EventArgs | null;
  readonly expect?: Expectation;
  /** `true`, or the `expect.out` fields recorded rather than observed. */
  readonly inferred?: true | readonly string[];
  readonly unsure: boolean;
  readonly failNth?: number;
  /** Format 1.1: the line of the capture the event was imported from (`source_line`). */
  readonly sourceLine?: number;
  /**
   * Format 1.1 (`unknown_args`): `true` when the capture records none of the arguments, else
   * the argument names it does not record. Such an event is never run (trace-format.md).
   */
  readonly unknownArgs?: true | readonly string[];
  /**
   * Format 1.1 (`args_one_of`): arguments the capture does not record but whose possible
   * values are known, each with those values; the event runs once per combination.
   */
  readonly argsOneOf?: { readonly [name: string]: readonly Value[] };
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

/** The VFIO IOMMU drivers a host can register (format 1.1, `env.vfio.drivers`). */
export type VfioDriverName = 'type1' | 'spapr_tce' | 'noiommu';

/** `env.vfio` (format 1.1): what serves /dev/vfio/vfio and which IOMMU drivers are registered. */
export interface VfioDecl {
  readonly container: 'native' | 'iommufd';
  /** In the order given; null: the drivers the header's devices imply. */
  readonly drivers: readonly VfioDriverName[] | null;
}

export interface TraceEnv {
  readonly pageSize: bigint;
  readonly hugepageSize: bigint;
  readonly memory: 'declared' | 'any';
  /** Memory present before the first event, as `MMAP` arguments. */
  readonly mappings: readonly Fields[];
  readonly processes: readonly ProcessDecl[];
  readonly devices: readonly DeviceDecl[];
  /** Absent: the native container, with the drivers the devices imply. */
  readonly vfio: VfioDecl | null;
  /**
   * `env.kernel`: the kernel version the trace was captured on, the JSON value as given (a
   * string, in a well-written trace); null when absent. src/kernel/select.ts reads it, with a
   * warning for a value that is no version.
   */
  readonly kernel: unknown;
  readonly extra: { readonly [key: string]: unknown };
}

export interface TraceHeader {
  /** The version the header declares; the events are read with every version the reader knows. */
  readonly version: FormatVersion;
  readonly env: TraceEnv;
  /** Module parameters by sysfs name: `env.params`, or (as format 1 wrote it) top-level `params`. */
  readonly params: Fields;
  readonly extra: { readonly [key: string]: unknown };
}
