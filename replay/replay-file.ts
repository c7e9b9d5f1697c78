/**
 * Replays trace files one after the other, each on a fresh model, streaming their events.
 * A file that cannot be read through still reports every event before the bad line.
 */
import { type OpenTrace, TraceError, openTrace } from '../events/index.ts';
import type { TraceEvent, TraceHeader } from '../events/types.ts';
import type { World } from '../src/model/world.ts';
import { clip } from '../events/quote.ts';
import { headerKernel } from '../src/kernel/select.ts';
import { type Counts, type Divergence, type FindingRecord, type QuirkRecord, type ReplayOptions, Replayer, type ViolationRecord } from './replayer.ts';
import type { Explanation } from './inspect/explain.ts';

export interface TraceReport extends Counts {
  readonly file: string;
  /** With `explain`, each carries the part of the state its event named, as it was before the event. */
  readonly divergences: readonly (Divergence & { readonly explain?: Explanation })[];
  /** Present when divergences were left out of `divergences` (`maxDivergences`): how many. */
  readonly divergencesOmitted?: number;
  /** Present with `--invariants`: the invariants events broke, up to `maxFindings`. */
  readonly violations?: readonly ViolationRecord[];
  /** Present when violations were left out of `violations` (`maxFindings`): how many. */
  readonly violationsOmitted?: number;
  /** The kernel quirks events brought about, up to `maxFindings`, `--invariants` or not: never a failure. */
  readonly quirks: readonly QuirkRecord[];
  /** Present when quirks were left out of `quirks` (`maxFindings`): how many. */
  readonly quirksOmitted?: number;
  /** The events that set off a crash or WARN of the release followed, up to `maxFindings`: never a failure. */
  readonly findings: readonly FindingRecord[];
  /** Present when findings were left out of `findings` (`maxFindings`): how many. */
  readonly findingsOmitted?: number;
  /** Present only when the file could not be replayed through: `file:line: reason`. */
  readonly error?: string;
  /** Present when reading the header's `env.kernel` warned (not a version, a distribution's, newer than known): `file: reason`, for stderr. */
  readonly warnings?: readonly string[];
}

export interface Totals extends Counts {
  /** With `--invariants`: every violation, listed or not. */
  violations?: number;
  /** Every kernel quirk, listed or not. */
  quirks?: number;
  /** Every finding, listed or not. */
  findings?: number;
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
  /** `--explain`: each divergence listed carries the part of the state its event named (replay/inspect/explain.ts). */
  readonly explain?: boolean;
}

const zero = (): Counts => ({ events: 0, ok: 0, diverged: 0, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 });

export async function replayFile(file: string, options: FileOptions, observer?: ReplayObserver): Promise<TraceReport> {
  let replayer: Replayer | null = null;
  let kernelWarning: string | null = null;
  // Divergences listed, by their place in the list, with their explanations.
  const explained = new Map<number, Explanation>();
  // The line reached: the event being replayed, else the last one read (the header is line 1).
  let reached = 0;
  const summary = (error?: string): TraceReport => ({
    file,
    ...(replayer?.counts ?? zero()),
    divergences: (replayer?.divergences ?? []).map((d, i) => {
      const explain = explained.get(i);
      return explain === undefined ? d : { ...d, explain };
    }),
    ...(replayer !== null && replayer.divergencesOmitted > 0 ? { divergencesOmitted: replayer.divergencesOmitted } : {}),
    ...(options.invariants === true ? { violations: replayer?.violations ?? [] } : {}),
    ...(replayer !== null && replayer.violationsOmitted > 0 ? { violationsOmitted: replayer.violationsOmitted } : {}),
    quirks: replayer?.quirks ?? [],
    ...(replayer !== null && replayer.quirksOmitted > 0 ? { quirksOmitted: replayer.quirksOmitted } : {}),
    findings: replayer?.findings ?? [],
    ...(replayer !== null && replayer.findingsOmitted > 0 ? { findingsOmitted: replayer.findingsOmitted } : {}),
    ...(error === undefined ? {} : { error }),
    ...(kernelWarning === null ? {} : { warnings: [`${clip(file, Infinity)}: ${kernelWarning}`] }),
  });
  let trace: OpenTrace | null = null;
  try {
    trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes });
    reached = 1;
    if (options.kernel === undefined) kernelWarning = headerKernel(trace.header).warning;
    const r = new Replayer(trace.header, options);
    replayer = r;
    const explain = options.explain === true ? (await import('./inspect/explain.ts')).explainEvent : null;
    observer?.start?.(trace.header, r.world);
    for await (const batch of trace.batches) {
      for (const event of batch) {
        reached = event.line;
        const listed = r.divergences.length;
        const fed = r.feed(event);
        if (explain !== null && r.divergences.length > listed) explained.set(listed, explain(event, fed.before));
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
export function failure(file: string, line: number, e: unknown): string {
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
  if (invariants) totals.violations = traces.reduce((n, t) => n + violationCount(t), 0);
  totals.quirks = traces.reduce((n, t) => n + quirkCount(t), 0);
  totals.findings = traces.reduce((n, t) => n + findingCount(t), 0);
  return { traces, totals };
}

/** A trace's violations, listed or not. */
export const violationCount = (t: TraceReport): number => (t.violations?.length ?? 0) + (t.violationsOmitted ?? 0);
/** A trace's kernel quirks, listed or not. */
export const quirkCount = (t: TraceReport): number => t.quirks.length + (t.quirksOmitted ?? 0);
/** A trace's findings, listed or not. */
export const findingCount = (t: TraceReport): number => t.findings.length + (t.findingsOmitted ?? 0);

/** 2 if a file could not be replayed through, else 1 if an event not marked unsure diverged or an invariant was violated, else 0: kernel quirks and findings never count. */
export function exitCode(report: ReplayReport): number {
  if (report.traces.some((t) => t.error !== undefined)) return 2;
  return report.totals.diverged > 0 || (report.totals.violations ?? 0) > 0 ? 1 : 0;
}
