/**
 * The trace format, version 1: reading and writing traces, and the tables of kernel structs,
 * ops, names and errnos they are read against.
 */
export { openTrace, parseTraceText, DEFAULT_MAX_LINE_BYTES } from './trace-reader.ts';
export { formatEvent, formatHeader } from './trace-writer.ts';
export { TraceError } from './trace-error.ts';
export { FieldError } from './field-error.ts';
export { OPS, MMAP_ARGS } from './ops.ts';
export * as structs from './structs.ts';
export { NAME_FAMILIES, nameValue } from './names.ts';
export { errnoName, errnoNumber, isErrnoName } from './errno.ts';
export { parseEnum, parseFlags, parseKernelNumber, U64_MAX } from './numbers.ts';

export type { OpenTrace, OpenTraceOptions } from './trace-reader.ts';
export type {
  ArgsLayout,
  DeviceDecl,
  EnvArgSpec,
  EventArgs,
  Expectation,
  FieldSpec,
  Fields,
  OpFamily,
  OpSpec,
  ProcessDecl,
  ScalarType,
  StructSpec,
  TraceEnv,
  TraceEvent,
  TraceHeader,
  Value,
} from './types.ts';
