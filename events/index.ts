/**
 * The trace format (docs/trace-format.md): reading and writing traces, and the tables of kernel
 * structs, ops, names and errnos they are read against. Its JSON Schema is built in schema.ts,
 * which is left out here so that reading a trace does not load zod.
 */
export { openTrace, parseTraceText, DEFAULT_MAX_LINE_BYTES } from './trace-reader.ts';
export { formatEvent, formatHeader } from './trace-writer.ts';
export { TraceError } from './trace-error.ts';
export { MAX_QUOTED, clip } from './quote.ts';
export { CURRENT_VERSION, VERSIONS } from './version.ts';
export { FieldError } from './field-error.ts';
export { OPS, MMAP_ARGS, type OpName } from './ops.ts';
export * as structs from './structs.ts';
export { NAME_FAMILIES, nameValue } from './names.ts';
export { errnoName, errnoNumber, isErrnoName, type Errno } from './errno.ts';
export { parseEnum, parseFlags, parseKernelNumber, U64_MAX } from './numbers.ts';

export type { OpenTrace, OpenTraceOptions } from './trace-reader.ts';
export type { FormatVersion } from './version.ts';
export type { ArgsLayout, EnvArgSpec, FieldSpec, OpFamily, OpSpec, ScalarType, StructSpec } from './spec-types.ts';
export type {
  DeviceDecl,
  EventArgs,
  Expectation,
  Fields,
  ProcessDecl,
  TraceEnv,
  TraceEvent,
  TraceHeader,
  Value,
} from './types.ts';
