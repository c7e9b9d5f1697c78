/**
 * Replays trace files one after the other, each on a fresh model, streaming their events.
 * A file that cannot be read through still reports every event before the bad line.
 */
import { TraceError, openTrace } from '../events/index.ts';
import type { TraceEvent, TraceHeader } from '../events/types.ts';
import type { World } from '../src/model/world.ts';
import { type Counts, type Divergence, type ReplayOptions, Replayer, type ViolationRecord } from './replayer.ts';

export interface TraceReport extends Counts {
  readonly file: string;
  readonly divergences: readonly Divergence[];
  /** Present with `--invariants`: every invariant an event broke. */
  readonly violations?: readonly ViolationRecord[];
  /** Present only when the file could not be read through: `file:line: reason`. */
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

const zero = (): Counts => ({ events: 0, ok: 0, diverged: 0, ran: 0, unsupported: 0, unsure_diverged: 0 });

export async function replayFile(file: string, options: FileOptions, observer?: ReplayObserver): Promise<TraceReport> {
  let replayer: Replayer | null = null;
  const summary = (error?: string): TraceReport => ({
    file,
    ...(replayer?.counts ?? zero()),
    divergences: replayer?.divergences ?? [],
    ...(options.invariants === true ? { violations: replayer?.violations ?? [] } : {}),
    ...(error === undefined ? {} : { error }),
  });
  try {
    const trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes });
    let r: Replayer;
    try {
      r = new Replayer(trace.header, options);
    } catch (e: unknown) {
      await trace.close();
      // A header the model cannot build a world from (a device entry it cannot read) is malformed input.
      throw new TraceError(file, 1, e instanceof Error ? e.message.replace(/^\[iommufd-model\] /, '') : String(e));
    }
    replayer = r;
    observer?.start?.(trace.header, r.world);
    for await (const batch of trace.batches) {
      for (const event of batch) {
        const fed = r.feed(event);
        observer?.event(event, fed.before, r.world, fed.result?.errno ?? null);
      }
    }
    return summary();
  } catch (e: unknown) {
    if (e instanceof TraceError) return summary(e.message);
    if (isFileSystemError(e)) return summary(`${file}: cannot read: ${e.code}`);
    throw e;
  }
}

function isFileSystemError(e: unknown): e is { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

export async function replayFiles(files: readonly string[], options: FileOptions): Promise<ReplayReport> {
  const traces: TraceReport[] = [];
  for (const file of files) traces.push(await replayFile(file, options));
  const totals: Totals = zero();
  for (const t of traces) {
    for (const k of Object.keys(zero()) as (keyof Counts)[]) totals[k] += t[k];
  }
  if (options.invariants === true) totals.violations = traces.reduce((n, t) => n + (t.violations?.length ?? 0), 0);
  return { traces, totals };
}

/** 2 if a file was malformed, else 1 if an event not marked unsure diverged, else 0. */
export function exitCode(report: ReplayReport): number {
  if (report.traces.some((t) => t.error !== undefined)) return 2;
  return report.totals.diverged > 0 || (report.totals.violations ?? 0) > 0 ? 1 : 0;
}
