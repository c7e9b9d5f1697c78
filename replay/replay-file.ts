/**
 * Replays trace files one after the other, each on a fresh model, streaming their events.
 * A file that cannot be read through still reports every event before the bad line.
 */
import { type OpenTrace, TraceError, openTrace } from '../events/index.ts';
import type { TraceEvent, TraceHeader } from '../events/types.ts';
import type { World } from '../src/model/world.ts';
import { clip } from '../events/quote.ts';
import { type Counts, type Divergence, type ReplayOptions, Replayer, type ViolationRecord } from './replayer.ts';

export interface TraceReport extends Counts {
  readonly file: string;
  readonly divergences: readonly Divergence[];
  /** Present when divergences were left out of `divergences` (`maxDivergences`): how many. */
  readonly divergencesOmitted?: number;
  /** Present with `--invariants`: every invariant an event broke. */
  readonly violations?: readonly ViolationRecord[];
  /** Present only when the file could not be replayed through: `file:line: reason`. */
  readonly error?: string;
}

export interface Totals extends Counts {
  violations?: number;
}

export interface ReplayReport {
  readonly traces: readonly TraceReport[];
  readonly totals: Totals;
}

/** Sees every replayed event with the snapshots around it (the audit's timeline). */
export interface ReplayObserver {
  start?(header: TraceHeader, world: World): void;
  event(event: TraceEvent, before: World, after: World, errno: string | null): void;
}

export interface FileOptions extends ReplayOptions {
  readonly maxLineBytes?: number;
}

const zero = (): Counts => ({ events: 0, ok: 0, diverged: 0, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 });

export async function replayFile(file: string, options: FileOptions, observer?: ReplayObserver): Promise<TraceReport> {
  let replayer: Replayer | null = null;
  // The line reached: the event being replayed, else the last one read (the header is line 1).
  let reached = 0;
  const summary = (error?: string): TraceReport => ({
    file,
    ...(replayer?.counts ?? zero()),
    divergences: replayer?.divergences ?? [],
    ...(replayer !== null && replayer.divergencesOmitted > 0 ? { divergencesOmitted: replayer.divergencesOmitted } : {}),
    ...(options.invariants === true ? { violations: replayer?.violations ?? [] } : {}),
    ...(error === undefined ? {} : { error }),
  });
  let trace: OpenTrace | null = null;
  try {
    trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes });
    reached = 1;
    const r = new Replayer(trace.header, options);
    replayer = r;
    observer?.start?.(trace.header, r.world);
    for await (const batch of trace.batches) {
      for (const event of batch) {
        reached = event.line;
        const fed = r.feed(event);
        observer?.event(event, fed.before, r.world, fed.result?.errno ?? null);
      }
    }
    return summary();
  } catch (e: unknown) {
    // Whatever stops one file (malformed input, a header the model cannot build a world from, a
    // failure of the model itself) is that file's error: the other files still report.
    return summary(failure(file, reached, e));
  } finally {
    // Closing can only fail once the file is unusable anyway; the report stands.
    await trace?.close().catch(() => undefined);
  }
}

/**
 * The error line of a file that stopped at line `line`: `file:line: reason`. The reader's
 * `TraceError` names its own line; anything else (the model failing on an event, a header it
 * cannot build a world from) is placed at the line reached.
 */
function failure(file: string, line: number, e: unknown): string {
  if (e instanceof TraceError) return e.message;
  const reason = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message.replace(/^\[iommufd-model\] /, '')}` : String(e);
  return `${clip(file, Infinity)}:${line}: ${clip(reason, MAX_REASON)}`;
}

/** An error's own message can quote any value it met; past this it is cut. */
const MAX_REASON = 200;

export async function replayFiles(files: readonly string[], options: FileOptions): Promise<ReplayReport> {
  const traces: TraceReport[] = [];
  for (const file of files) traces.push(await replayFile(file, options));
  return replayReport(traces, options.invariants === true);
}

/** The report of traces replayed with the same options (`invariants`: whether they were checked). */
export function replayReport(traces: readonly TraceReport[], invariants: boolean): ReplayReport {
  const totals: Totals = zero();
  for (const t of traces) {
    for (const k of Object.keys(zero()) as (keyof Counts)[]) totals[k] += t[k];
  }
  if (invariants) totals.violations = traces.reduce((n, t) => n + (t.violations?.length ?? 0), 0);
  return { traces, totals };
}

/** 2 if a file could not be replayed through, else 1 if an event not marked unsure diverged, else 0. */
export function exitCode(report: ReplayReport): number {
  if (report.traces.some((t) => t.error !== undefined)) return 2;
  return report.totals.diverged > 0 || (report.totals.violations ?? 0) > 0 ? 1 : 0;
}
