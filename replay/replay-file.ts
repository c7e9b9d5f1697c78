/**
 * Replays trace files one after the other, each on a fresh model, streaming their events.
 * A file that cannot be read through still reports every event before the bad line.
 */
import { TraceError, openTrace } from '../events/index.ts';
import { type Counts, type Divergence, type ReplayOptions, Replayer } from './replayer.ts';

export interface TraceReport extends Counts {
  readonly file: string;
  readonly divergences: readonly Divergence[];
  /** Present only when the file could not be read through: `file:line: reason`. */
  readonly error?: string;
}

export interface ReplayReport {
  readonly traces: readonly TraceReport[];
  readonly totals: Counts;
}

export interface FileOptions extends ReplayOptions {
  readonly maxLineBytes?: number;
}

const zero = (): Counts => ({ events: 0, ok: 0, diverged: 0, ran: 0, unsupported: 0, unsure_diverged: 0 });

export async function replayFile(file: string, options: FileOptions): Promise<TraceReport> {
  let replayer: Replayer | null = null;
  const summary = (error?: string): TraceReport => ({
    file,
    ...(replayer?.counts ?? zero()),
    divergences: replayer?.divergences ?? [],
    ...(error === undefined ? {} : { error }),
  });
  try {
    const trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes });
    replayer = new Replayer(trace.header, options);
    for await (const event of trace.events) replayer.feed(event);
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
  const totals = zero();
  for (const t of traces) {
    for (const k of Object.keys(totals) as (keyof Counts)[]) totals[k] += t[k];
  }
  return { traces, totals };
}

/** 2 if a file was malformed, else 1 if an event not marked unsure diverged, else 0. */
export function exitCode(report: ReplayReport): number {
  if (report.traces.some((t) => t.error !== undefined)) return 2;
  return report.totals.diverged > 0 ? 1 : 0;
}
