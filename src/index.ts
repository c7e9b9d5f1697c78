/**
 * The public API of iommufd-model: the trace format, the model's step function and snapshot
 * types, and the replay engine.
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
export type { Result, RejectedChoice } from './command.ts';
export type { StepOptions, StepOutcome } from './dispatch.ts';
export type { Area, Ctx, Ioas, IoPagetable, Mapping, OpenFile, Pages, Process, World } from './world.ts';
export type { Divergence, Outcome, ReplayOptions } from '../replay/replayer.ts';
export type { ReplayReport, TraceReport } from '../replay/replay-file.ts';

export { isSupported, step } from './dispatch.ts';
export { createWorld } from './world-init.ts';
export { Replayer } from '../replay/replayer.ts';
export { exitCode, replayFile, replayFiles } from '../replay/replay-file.ts';
export { formatTextReport } from '../replay/text-report.ts';
export { worldToJson } from '../replay/snapshot.ts';
