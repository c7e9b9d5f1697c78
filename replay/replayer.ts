/**
 * The replay engine: a fold of trace events over the model that classifies each event
 * (`ok`, `diverged`, `ran`, `unsupported`) as the trace format's replay contract says.
 */
import type { Expectation, TraceEvent, TraceHeader } from '../events/types.ts';
import { step } from '../src/model/dispatch.ts';
import type { Result } from '../src/model/command.ts';
import type { BugName } from '../src/model/mutants.ts';
import type { World } from '../src/model/world.ts';
import { createWorld } from '../src/model/world-init.ts';
import { FullInvariantTracker, type InvariantTracker, checkStep } from '../src/invariants/invariants.ts';
import { IncrementalInvariantTracker } from '../src/invariants/incremental.ts';
import { matches, outputsOf } from './compare.ts';
import { type Json, toJson } from './json-value.ts';

export interface ReplayOptions {
  /** `--own-choices`: adopt no recorded free choice; compare them all. */
  readonly ownChoices: boolean;
  /** `--invariants`: check the model's invariants after every event. */
  readonly invariants?: boolean;
  /**
   * `--invariants-full`: with `invariants`, check the whole snapshot after every event instead
   * of what the event changed (same violations, at a cost that grows with the state).
   */
  readonly invariantsFull?: boolean;
  /** Deliberate bugs to switch on in the model (default: none). */
  readonly bugs?: ReadonlySet<BugName>;
}

/** An invariant an event broke (reported once, at the event that broke it). */
export interface ViolationRecord {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  readonly invariant: string;
  readonly detail: string;
}

export interface Divergence {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  readonly expected: Json;
  readonly actual: Json;
  /** The kernel check the model's failure came from (`EINVAL iopt_check_iova: unaligned`). */
  readonly check?: string;
  readonly unsure: boolean;
  /** Why a recorded free choice was not adopted, when that is the divergence. */
  readonly note?: string;
}

export type Outcome = 'ok' | 'diverged' | 'ran' | 'unsupported';

export interface Counts {
  events: number;
  ok: number;
  diverged: number;
  ran: number;
  unsupported: number;
  unsure_diverged: number;
}

export function resultJson(result: Result): Json {
  const out = outputsOf(result);
  const json: { [k: string]: Json } = {};
  if (result.errno !== null) json['errno'] = result.errno;
  if (Object.keys(out).length > 0) json['out'] = toJson(out);
  return json;
}

export class Replayer {
  private current: World;
  readonly counts: Counts = { events: 0, ok: 0, diverged: 0, ran: 0, unsupported: 0, unsure_diverged: 0 };
  readonly divergences: Divergence[] = [];
  readonly violations: ViolationRecord[] = [];
  private readonly invariants: InvariantTracker;

  constructor(
    header: TraceHeader,
    private readonly options: ReplayOptions,
  ) {
    this.current = createWorld(header, options);
    this.invariants = options.invariantsFull === true ? new FullInvariantTracker() : new IncrementalInvariantTracker();
  }

  get world(): World {
    return this.current;
  }

  /** Runs the invariants after an event, recording the violations that are new. */
  private check(event: TraceEvent, before: World, result: Result): void {
    const found = [...checkStep(before, result.world, event, result)];
    if (result.world !== before || this.invariants.hasStanding) found.push(...this.invariants.check(result.world));
    for (const v of found) this.violations.push({ line: event.line, seq: event.seq, op: event.op, ...v });
  }

  /** Replays one event and returns how it came out. */
  feed(event: TraceEvent): { readonly outcome: Outcome; readonly result: Result | null; readonly before: World } {
    const before = this.current;
    const stepped = step(before, event, { adopt: !this.options.ownChoices });
    this.current = stepped.world;
    this.counts.events++;
    if (this.options.invariants === true && stepped.result !== null) this.check(event, before, stepped.result);
    const { result } = stepped;
    if (result === null) {
      this.counts.unsupported++;
      return { outcome: 'unsupported', result, before };
    }
    const expect = expectationOf(event);
    // An event that could not be issued (dead pid, closed fd) diverges even without `expect`.
    if (expect === undefined && !stepped.unissued) {
      this.counts.ran++;
      return { outcome: 'ran', result, before };
    }
    if (expect !== undefined && matches(expect, result, stepped.rejected)) {
      this.counts.ok++;
      return { outcome: 'ok', result, before };
    }
    if (event.unsure) this.counts.unsure_diverged++;
    else this.counts.diverged++;
    const rejected = stepped.rejected
      .map((r) => `recorded ${r.field} ${JSON.stringify(toJson(r.recorded, r.field))} not adopted: ${r.reason}`)
      .join('; ');
    this.divergences.push({
      line: event.line,
      seq: event.seq,
      op: event.op,
      expected: expect === undefined ? null : expectJson(expect),
      actual: resultJson(result),
      ...(result.check === undefined ? {} : { check: result.check }),
      unsure: event.unsure,
      ...(rejected === '' ? {} : { note: rejected }),
    });
    return { outcome: 'diverged', result, before };
  }
}

/** What the event says the system answered; a `CHECK` always asserts its `value`. */
function expectationOf(event: TraceEvent): Expectation | undefined {
  if (event.op !== 'CHECK') return event.expect;
  const value = event.args?.fields['value'] ?? 0n;
  return { ...event.expect, out: { ...event.expect?.out, value } };
}

function expectJson(expect: NonNullable<TraceEvent['expect']>): Json {
  const json: { [k: string]: Json } = {};
  if (expect.errno !== undefined) json['errno'] = expect.errno;
  if (expect.out !== undefined) json['out'] = toJson(expect.out);
  return json;
}
