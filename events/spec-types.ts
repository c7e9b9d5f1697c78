/**
 * The shapes of the format's tables (ops.ts, structs.ts): kernel uapi structs and their
 * members, and how each op lays out its arguments.
 */
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
  /** For `records`: the struct each record is, read member by member (without it, records are loose). */
  readonly element?: StructSpec;
}

export type OpFamily = 'iommufd' | 'vfio-container' | 'vfio-group' | 'vfio-device' | 'selftest' | 'env' | 'raw';

/** One op of the registry; ops.ts narrows `Name` and `Family` to each op's own. */
export interface OpSpec<Name extends string = string, Family extends OpFamily = OpFamily> {
  /** The op name as the trace writes it (`IOAS_MAP`, `VFIO_IOMMU_MAP_DMA`, `TEST_ACCESS_PAGES`, `MMAP`). */
  readonly op: Name;
  readonly family: Family;
  /** The ioctl number (x86 encoding) for ioctl ops. */
  readonly ioctl?: number;
  /** `IOMMU_TEST_OP_*` for selftest ops. */
  readonly testOp?: number;
  readonly layout: ArgsLayout;
}
