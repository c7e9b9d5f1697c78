/**
 * `iommufd-model bisect FILE --until PREDICATE`: the first event after which a predicate holds.
 * A predicate need not stay true once it holds (a counter goes up and down again), so halving
 * the trace could miss the first event; the events are scanned forward instead, from the
 * checkpoint at or before where the search starts, each state tested once.
 */
import { clip } from '../../events/quote.ts';
import { eventRef } from './document.ts';
import { type Predicate, holds, needsInvariants, parsePredicate, witness } from './predicate.ts';
import { eventText } from './text-tree.ts';
import { type Position, Timeline, type TimelineOptions } from './timeline.ts';
import type { EventRef } from './view-types.ts';

export interface BisectDocument {
  readonly file: string;
  readonly until: string;
  /** The first event after which the predicate holds, or null when none does. */
  readonly found: EventRef | null;
  /** What the predicate read there, one line per part of it. */
  readonly witness: readonly string[];
  /** The events tested. */
  readonly scanned: number;
}

/** The first position after ordinal `from` where `predicate` holds, and how many were tested. */
export async function findAfter(timeline: Timeline, predicate: Predicate, from: number): Promise<{ found: Position | null; scanned: number }> {
  let scanned = 0;
  for await (const p of timeline.after(from)) {
    scanned++;
    if (holds(predicate, { world: p.world, violations: timeline.violationsAt(p.line) })) return { found: p, scanned };
  }
  return { found: null, scanned };
}

export async function bisect(file: string, until: string, options: TimelineOptions): Promise<BisectDocument> {
  const predicate = parsePredicate(until);
  const timeline = await Timeline.open(file, { ...options, invariants: options.invariants === true || needsInvariants(predicate) });
  try {
    const { found, scanned } = await findAfter(timeline, predicate, 0);
    return {
      file: timeline.name,
      until,
      found: found === null ? null : eventRef(found),
      witness: found === null ? [] : witness(predicate, { world: found.world, violations: timeline.violationsAt(found.line) }),
      scanned,
    };
  } finally {
    await timeline.close();
  }
}

export function formatBisect(doc: BisectDocument): string {
  const head = `${clip(doc.file, Infinity)}: ${clip(doc.until, Infinity)}`;
  if (doc.found === null) return `${head}: never holds (${doc.scanned} events)`;
  return [`${head}: first holds ${eventText(doc.found)}`, ...doc.witness.map((w) => `  ${w}`)].join('\n');
}

/** 0 when the predicate came to hold, 1 when it never did. */
export const bisectExitCode = (doc: BisectDocument): number => (doc.found === null ? 1 : 0);
