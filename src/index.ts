/**
 * The public API of iommufd-model: the trace format, the model's step function and snapshot
 * types, its invariants, the replay engine, the audit and the fuzzer.
 */
export type {
  EventArgs,
  Expectation,
  Fields,
  TraceEnv,
  TraceEvent,
  TraceHeader,
  Value,
} from '../events/types.ts';
export type { OpName } from '../events/ops.ts';
export type { Result, RejectedChoice } from './model/command.ts';
export type { StepOptions, StepOutcome } from './model/dispatch.ts';
export type { Quirk, Violation } from './invariants/invariants.ts';
export type { Area, Ctx, Ioas, IoPagetable, Mapping, OpenFile, Pages, Process, World } from './model/world.ts';
export type { Divergence, FindingRecord, Outcome, QuirkRecord, ReplayOptions, ViolationRecord } from '../replay/replayer.ts';
export type { ReplayObserver, ReplayReport, TraceReport } from '../replay/replay-file.ts';
export type { Accounting, AuditAccountings, AuditReport, AuditSeries } from '../replay/audit.ts';
export type { Counterexample, FuzzOptions, FuzzResult } from './fuzz/fuzz.ts';

export { TraceError, formatEvent, formatHeader, openTrace, parseTraceText } from '../events/index.ts';
export { isSupported, step } from './model/dispatch.ts';
export { createWorld, type WorldOptions } from './model/world-init.ts';
export { checkStep, checkWorld, stepQuirks } from './invariants/invariants.ts';
export { Replayer } from '../replay/replayer.ts';
export { exitCode, replayFile, replayFiles } from '../replay/replay-file.ts';
export { formatTextReport } from '../replay/text-report.ts';
export { worldToJson } from '../replay/snapshot.ts';
export { auditFile } from '../replay/audit.ts';
export { formatAuditText } from '../replay/audit-text.ts';
export { renderAuditHtml } from '../replay/audit-html.ts';
export { fuzz } from './fuzz/fuzz.ts';
export { BUGS, BUG_NAMES, type BugName } from './model/mutants.ts';
