/**
 * Envelope mode (`replay --kernel all`): a trace replayed under every release's profile, to say
 * which releases the capture is consistent with and, at each event the releases answer
 * differently, which of them answer as the capture does. Once a release has diverged, its state
 * is no longer the capture's and what it answers later says nothing of that release: an event
 * only such releases answer differently follows on from an earlier one, and is counted, not
 * listed (a 5.12 that could not open /dev/iommu answers every later event EBADF). The file is
 * read once: each event is fed to one replayer per profile before the next is read, so memory
 * follows the profiles' states, not the trace. A header's `env.kernel` is not consulted: every
 * profile is tried.
 */
import { type OpenTrace, openTrace } from '../events/index.ts';
import type { TraceEvent } from '../events/types.ts';
import type { Result } from '../src/model/command.ts';
import { RELEASES } from '../src/kernel/releases.ts';
import { outputsOf, sameValue } from './compare.ts';
import type { Json } from './json-value.ts';
import { type FileOptions, failure } from './replay-file.ts';
import { type Counts, type FindingRecord, type Outcome, Replayer, expectJson, expectationOf, resultJson } from './replayer.ts';

/**
 * The releases envelope mode replays under, oldest first: every profiled release, those before
 * iommufd (no /dev/iommu) included, so that a legacy VFIO trace can be consistent with them.
 */
export const ENVELOPE_RELEASES: readonly string[] = RELEASES.map((r) => r.name);

/** What replay does with a trace apart from the release; `maxDivergences` caps the disagreements listed, `maxFindings` the findings kept per release. */
export type EnvelopeOptions = Omit<FileOptions, 'kernel' | 'invariants' | 'invariantsFull' | 'explain'>;

/** How the trace came out under one release. */
export interface ReleaseCounts extends Counts {
  readonly release: string;
  /** The first event that diverged (not unsure), when one did. */
  readonly firstDivergence?: { readonly line: number; readonly seq: number | null; readonly op: string };
}

/** The releases that answered an event alike. */
export interface ResultGroup {
  readonly outcome: Outcome;
  /** What they answered (as a divergence's `actual`); absent when the event was not decided (`unknown`) or not run (`unsupported`). */
  readonly actual?: Json;
  readonly releases: readonly string[];
}

/** An event the releases answer differently. */
export interface Disagreement {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  /** The capture's answer; null when the event has no expectation. */
  readonly expected: Json;
  /** The releases whose answer matches the capture's; null when there is nothing to match. */
  readonly agree: readonly string[] | null;
  /** The distinct answers, in the order of the releases that first gave each. */
  readonly results: readonly ResultGroup[];
  readonly source_line?: number;
}

export interface EnvelopeTrace {
  readonly file: string;
  /** The releases under which no event diverged (unknown, unexpected and unsure events do not count against). */
  readonly consistent: readonly string[];
  /** Every release tried, oldest first, with its counts. */
  readonly releases: readonly ReleaseCounts[];
  /** The events that releases not diverged before them answer differently, in trace order. */
  readonly disagreements: readonly Disagreement[];
  /** Present when disagreements were left out of `disagreements` (`maxDivergences`): how many. */
  readonly disagreementsOmitted?: number;
  /** The events only releases already diverged answer differently. */
  readonly followOn: number;
  /** The crashes and WARNs of a release the events set off (as replay's findings), `releases` those it was set off under. */
  readonly findings: readonly FindingRecord[];
  /** Present only when the file could not be replayed through: `file:line: reason`. */
  readonly error?: string;
}

export interface EnvelopeReport {
  /** The releases tried, oldest first. */
  readonly releases: readonly string[];
  readonly traces: readonly EnvelopeTrace[];
  readonly totals: {
    readonly traces: number;
    /** The releases every trace is consistent with. */
    readonly consistent: readonly string[];
    /** Traces consistent with no release. */
    readonly inconsistent: number;
  };
}

interface Fed {
  readonly outcome: Outcome;
  readonly result: Result | null;
}

/** Whether two releases answered an event alike. */
const alike = (a: Fed, b: Fed): boolean =>
  a.outcome === b.outcome &&
  (a.result === b.result || (a.result !== null && b.result !== null && a.result.errno === b.result.errno && sameValue(outputsOf(a.result), outputsOf(b.result))));

function disagreement(event: TraceEvent, fed: readonly Fed[], releases: readonly string[]): Disagreement {
  const groups: { fed: Fed; releases: string[] }[] = [];
  fed.forEach((f, i) => {
    const release = releases[i] as string;
    const group = groups.find((g) => alike(g.fed, f));
    if (group === undefined) groups.push({ fed: f, releases: [release] });
    else group.releases.push(release);
  });
  const expect = expectationOf(event);
  return {
    line: event.line,
    seq: event.seq,
    op: event.op,
    expected: expect === undefined ? null : expectJson(expect),
    agree: expect === undefined ? null : releases.filter((_, i) => fed[i]?.outcome === 'ok'),
    results: groups.map(({ fed: f, releases: r }) => ({ outcome: f.outcome, ...(f.result === null ? {} : { actual: resultJson(f.result) }), releases: r })),
    ...(event.sourceLine === undefined ? {} : { source_line: event.sourceLine }),
  };
}

/** Each finding once, at its event, with the releases it was set off under. */
function findingsOf(replayers: readonly Replayer[], releases: readonly string[]): FindingRecord[] {
  const found = new Map<string, FindingRecord & { releases: string[] }>();
  replayers.forEach((r, i) => {
    for (const f of r.findings) {
      const key = `${f.line} ${f.bug}`;
      const seen = found.get(key);
      if (seen === undefined) found.set(key, { ...f, releases: [releases[i] as string] });
      else seen.releases.push(releases[i] as string);
    }
  });
  return [...found.values()].sort((a, b) => a.line - b.line);
}

/** `file` replayed under every release at once; what stops it is its `error`, never a rejection. */
export async function envelopeFile(file: string, options: EnvelopeOptions): Promise<EnvelopeTrace> {
  const releases = ENVELOPE_RELEASES;
  const replayers: Replayer[] = [];
  const first = new Map<number, ReleaseCounts['firstDivergence']>();
  const disagreements: Disagreement[] = [];
  let omitted = 0;
  let followOn = 0;
  let reached = 0;
  const summary = (error?: string): EnvelopeTrace => {
    const counted = replayers.map((r, i) => {
      const at = first.get(i);
      return { release: releases[i] as string, ...r.counts, ...(at === undefined ? {} : { firstDivergence: at }) };
    });
    return {
      file,
      consistent: error === undefined ? counted.filter((c) => c.diverged === 0).map((c) => c.release) : [],
      releases: counted,
      disagreements,
      ...(omitted > 0 ? { disagreementsOmitted: omitted } : {}),
      followOn,
      findings: findingsOf(replayers, releases),
      ...(error === undefined ? {} : { error }),
    };
  };
  let trace: OpenTrace | null = null;
  try {
    trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes });
    reached = 1;
    // A replayer keeps no divergence: what is listed here is where the releases answer differently.
    for (const release of releases) replayers.push(new Replayer(trace.header, { ...options, kernel: release, maxDivergences: 0 }));
    for await (const batch of trace.batches) {
      for (const event of batch) {
        reached = event.line;
        const inStep = replayers.map((r) => r.counts.diverged === 0);
        const fed = replayers.map((r, i): Fed => {
          const diverged = r.counts.diverged;
          const { outcome, result } = r.feed(event);
          if (r.counts.diverged > diverged && !first.has(i)) first.set(i, { line: event.line, seq: event.seq, op: event.op });
          return { outcome, result };
        });
        const one = fed[0] as Fed;
        if (fed.every((f) => alike(one, f))) continue;
        const still = fed.filter((_, i) => inStep[i]);
        if (still.every((f) => alike(still[0] as Fed, f))) followOn++;
        else if (disagreements.length < (options.maxDivergences ?? Infinity)) disagreements.push(disagreement(event, fed, releases));
        else omitted++;
      }
    }
    return summary();
  } catch (e: unknown) {
    // As in replayFile: what stops one file is that file's error, the other files still report.
    return summary(failure(file, reached, e));
  } finally {
    await trace?.close().catch(() => undefined);
  }
}

/** The report of traces each replayed under every release. */
export function envelopeReport(traces: readonly EnvelopeTrace[]): EnvelopeReport {
  const releases = ENVELOPE_RELEASES;
  return {
    releases,
    traces,
    totals: {
      traces: traces.length,
      consistent: releases.filter((r) => traces.every((t) => t.consistent.includes(r))),
      inconsistent: traces.filter((t) => t.consistent.length === 0).length,
    },
  };
}

/** 2 if a file could not be replayed through, else 1 if a trace is consistent with no release, else 0. */
export function envelopeExitCode(report: EnvelopeReport): number {
  if (report.traces.some((t) => t.error !== undefined)) return 2;
  return report.totals.inconsistent > 0 ? 1 : 0;
}
