/**
 * The pinned-memory audit: replays a trace and follows every accounting target over time —
 * each uid's locked_vm, each process's VmLck and VmPin, the pages each IOAS and each pages
 * object keeps pinned, what each native VFIO container and each SPAPR mm charged — with peaks,
 * what is left charged once every fd is closed, the invariants an event broke, the kernel
 * quirks it showed, and the workload's charge under iommufd's, VFIO type1's and SPAPR TCE's
 * accounting side by side (audit-ledgers.ts).
 */
import type { World } from '../src/model/world.ts';
import { ACCOUNTINGS } from './audit-ledgers.ts';
import { AuditSamples, type AuditSeries } from './audit-samples.ts';
import { PagesTable, type PagesRecord } from './audit-pages.ts';
import { type QuirkCharge, quirkCharges, splitLeaks } from './audit-quirk-charges.ts';
import { type Accounting, TargetTracker, type TargetKind, measure, totalOf } from './audit-targets.ts';
import { type FileOptions, exitCode, replayFile, type TraceReport } from './replay-file.ts';
import type { QuirkRecord, ViolationRecord } from './replayer.ts';

export type { AuditSeries } from './audit-samples.ts';
export type { PagesRecord } from './audit-pages.ts';
export type { Accounting } from './audit-targets.ts';

/** Samples kept per series, at most: a chart's worth. */
export const MAX_SAMPLES = 4096;
/** Rows kept of pages objects that went away, without `history`. */
export const GONE_PAGES_KEPT = 1000;

export interface AuditOptions extends Omit<FileOptions, 'invariants'> {
  /** `--history`: a row for every pages object the trace made, not only the live ones and the largest gone. */
  readonly history?: boolean;
}

export interface AuditReport {
  readonly file: string;
  /** The header's `description`, when it has one. */
  readonly description: string;
  readonly pageSize: number;
  readonly replay: TraceReport;
  /** The trace line of each sample; sample i of every series is after that line's event. */
  readonly lines: number[];
  /** Present when the samples were thinned: each kept sample stands for this many changes. */
  readonly sampleStride?: number;
  readonly ops: string[];
  readonly series: AuditSeries[];
  readonly pages: PagesRecord[];
  /** Present when rows of gone pages objects were left out (without `history`): how many. */
  readonly pagesOmitted?: number;
  /** Targets still charged after the last event while no iommufd context and no native VFIO container is left, beyond what kernel quirks left: a leak. */
  readonly leaks: { target: string; pages: number }[];
  /** What kernel quirks left charged then, per target and quirk: the kernel leaves it too, so not a leak. */
  readonly leftByQuirks: readonly QuirkCharge[];
  /** Still charged at the end of the trace, per target (contexts and containers may still be open). */
  readonly remaining: { target: string; pages: number }[];
  readonly violations: readonly ViolationRecord[];
  /** The kernel quirks the trace showed: the model doing what the kernel does where it looks wrong; never a failure. */
  readonly quirks: readonly QuirkRecord[];
  readonly accountings: AuditAccountings;
}

/** Pages charged: the most at once over the trace, and after its last event. */
export interface PeakFinal {
  readonly peak: number;
  readonly final: number;
}

/**
 * The workload under the three accountings, per process and for all of them: each column is
 * what its API charged for the mappings made through it, plus its yardstick for the mappings
 * made through the other two (audit-ledgers.ts).
 */
export interface AuditAccountings {
  /** The accountings whose own API charged something in the trace: the others are yardsticks only. */
  readonly actual: readonly Accounting[];
  readonly processes: readonly ({ readonly pid: number } & { readonly [A in Accounting]: PeakFinal })[];
  readonly total: { readonly [A in Accounting]: PeakFinal };
  /**
   * Each process that pre-registered memory for SPAPR TCE: the most pages it had pre-registered
   * (charged once), and the most runs of TCEs (`mappings`) and windows that used that memory at once.
   */
  readonly preregistered: readonly { readonly pid: number; readonly pages: number; readonly mappings: number; readonly windows: number }[];
}

/** The targets whose charge is each accounting's own, when the trace used its API. */
const ACTUAL: { readonly [A in Accounting]: readonly TargetKind[] } = {
  iommufd: ['pinned_vm'],
  type1: ['type1_container'],
  spapr: ['spapr_container', 'spapr_mm'],
};

/** Replays one trace with the invariants on and collects the audit. */
export async function auditFile(file: string, options: AuditOptions): Promise<AuditReport> {
  const { history, ...replayOptions } = options;
  const samples = new AuditSamples(MAX_SAMPLES);
  const targets = new TargetTracker();
  const pages = new PagesTable(history === true ? Infinity : GONE_PAGES_KEPT);
  let pageSize = 4096;
  let description = '';
  const peaks = { iommufd: 0n, type1: 0n, spapr: 0n };
  const prereg = new Map<number, { mappings: number; windows: number }>();
  let finalWorld: World | null = null;

  /** Samples every target after the event on `line`, once `targets` has taken in `world`. */
  const sample = (line: number, op: string, world: World) => {
    samples.record(line, op, targets.values, () => measure(world));
    for (const a of ACCOUNTINGS) {
      const total = totalOf(targets.values, a);
      if (total > peaks[a]) peaks[a] = total;
    }
  };

  const replay = await replayFile(file, { ...replayOptions, invariants: true }, {
    start: (header, world) => {
      pageSize = Number(header.env.pageSize);
      const d = header.extra['description'];
      if (typeof d === 'string') description = d;
      targets.update(world);
      sample(1, 'start', world);
    },
    event: (event, before, after) => {
      finalWorld = after;
      if (after === before) return;
      if (targets.update(after)) sample(event.line, event.op, after);
      for (const pid of targets.preregChanged) {
        const now = targets.prereg.get(pid);
        const most = prereg.get(pid) ?? { mappings: 0, windows: 0 };
        prereg.set(pid, { mappings: Math.max(most.mappings, now?.mappings ?? 0), windows: Math.max(most.windows, now?.windows ?? 0) });
      }
      pages.update(after, event.line);
    },
  });

  const end = finalWorld === null ? targets.values : measure(finalWorld);
  const remaining = [...end]
    .filter(([, v]) => v.pages > 0n && !(ACCOUNTINGS as readonly TargetKind[]).includes(v.kind))
    .map(([target, v]) => ({ target, pages: Number(v.pages) }));
  const closed = finalWorld === null || ((finalWorld as World).contexts.size === 0 && (finalWorld as World).vfio.containers.size === 0);
  const { leaks, leftByQuirks } = closed ? splitLeaks(remaining, finalWorld === null ? [] : quirkCharges(finalWorld)) : { leaks: [], leftByQuirks: [] };
  const series = [...samples.series.values()];
  return {
    file,
    description,
    pageSize,
    replay,
    lines: samples.lines,
    ...(samples.stride > 1 ? { sampleStride: samples.stride } : {}),
    ops: samples.ops,
    series,
    pages: pages.rows(),
    ...(pages.omitted > 0 ? { pagesOmitted: pages.omitted } : {}),
    leaks,
    leftByQuirks,
    remaining,
    violations: replay.violations ?? [],
    quirks: replay.quirks,
    accountings: accountingsOf(series, end, peaks, prereg),
  };
}

/** Per process, each accounting's peak and final charge from its series; for all processes, the peaks of the sums taken at every change. */
function accountingsOf(
  series: readonly AuditSeries[],
  end: ReturnType<typeof measure>,
  peaks: { readonly [A in Accounting]: bigint },
  prereg: ReadonlyMap<number, { mappings: number; windows: number }>,
): AuditAccountings {
  const rows = new Map<number, { pid: number } & { [A in Accounting]: PeakFinal }>();
  const none = { peak: 0, final: 0 };
  for (const s of series) {
    const pid = Number(/^pid (\d+) accounting /.exec(s.target)?.[1]);
    if (!(ACCOUNTINGS as readonly string[]).includes(s.kind) || Number.isNaN(pid)) continue;
    let row = rows.get(pid);
    if (row === undefined) rows.set(pid, (row = { pid, iommufd: none, type1: none, spapr: none }));
    row[s.kind as Accounting] = { peak: s.peak, final: s.values[s.values.length - 1] ?? 0 };
  }
  const used = (a: Accounting) => series.some((s) => ACTUAL[a].includes(s.kind) && s.peak > 0);
  const total = (a: Accounting): PeakFinal => ({ peak: Number(peaks[a]), final: Number(totalOf(end, a)) });
  const preregistered = series
    .filter((s) => s.kind === 'spapr_mm' && s.peak > 0)
    .map((s) => {
      const pid = Number(/^pid (\d+) /.exec(s.target)?.[1]);
      return { pid, pages: s.peak, ...(prereg.get(pid) ?? { mappings: 0, windows: 0 }) };
    })
    .sort((a, b) => a.pid - b.pid);
  return {
    actual: ACCOUNTINGS.filter(used),
    processes: [...rows.values()].sort((a, b) => a.pid - b.pid),
    total: { iommufd: total('iommufd'), type1: total('type1'), spapr: total('spapr') },
    preregistered,
  };
}

/** As `replay`'s, a leak counting as a violation (what kernel quirks left charged does not): 2 if a file could not be replayed through, else 1 if one diverged or broke an invariant, else 0. */
export function auditExitCode(audits: readonly AuditReport[]): number {
  return exitCode({
    traces: audits.map((a) => a.replay),
    totals: {
      events: 0,
      ok: 0,
      ran: 0,
      unknown: 0,
      unsupported: 0,
      unsure_diverged: 0,
      diverged: audits.reduce((n, a) => n + a.replay.diverged, 0),
      violations: audits.reduce((n, a) => n + a.violations.length + a.leaks.length, 0),
    },
  });
}
