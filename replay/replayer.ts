/**
 * The replay engine: a fold of trace events over the model that classifies each event
 * (`ok`, `diverged`, `ran`, `unknown`, `unsupported`) as the trace format's replay contract says.
 */
import type { Expectation, TraceEvent, TraceHeader } from '../events/types.ts';
import { type StepOptions, type StepOutcome, step } from '../src/model/dispatch.ts';
import type { Result } from '../src/model/command.ts';
import type { BugName } from '../src/model/mutants.ts';
import type { World } from '../src/model/world.ts';
import { createWorld } from '../src/model/world-init.ts';
import { FullInvariantTracker, type InvariantTracker, checkStep, stepQuirks } from '../src/invariants/invariants.ts';
import { IncrementalInvariantTracker } from '../src/invariants/incremental.ts';
import { type ReleaseBug, bugsOf, releasesWith } from '../src/kernel/release-bugs.ts';
import { attributeToRelease } from '../src/kernel/release-quirks.ts';
import { matches, outputsOf } from './compare.ts';
import { type Json, toJson } from './json-value.ts';
import { UnsureScopes, alternatives } from './unrecorded.ts';

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
  /** `--kernel`: the release to follow (src/kernel/releases.ts), over each trace's `env.kernel`. */
  readonly kernel?: string;
  /** Divergences kept in `divergences`, at most (default: all); the rest are only counted. */
  readonly maxDivergences?: number;
  /** Violations kept in `violations`, quirks in `quirks` and findings in `findings`, each at most (default: all); the rest are only counted. */
  readonly maxFindings?: number;
}

/** An invariant an event broke (reported once, at the event that broke it). */
export interface ViolationRecord {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  readonly invariant: string;
  readonly detail: string;
}

/**
 * A kernel quirk an event brought about (src/invariants/quirks.ts): the model doing what the
 * kernel does where the kernel looks wrong. Reported once, at that event; never a failure.
 */
export interface QuirkRecord {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  readonly quirk: string;
  readonly detail: string;
}

/**
 * An event that made the release followed crash or WARN (a bug of src/kernel/release-bugs.ts
 * with a trigger): neither ok nor a divergence, and never a failure.
 */
export interface FindingRecord {
  readonly line: number;
  readonly seq: number | null;
  readonly op: string;
  /** The bug's name in the table. */
  readonly bug: string;
  /** The mainline commit that fixed it. */
  readonly fixed_by: string;
  /** The releases that have it, oldest first. */
  readonly releases: readonly string[];
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
  /** The capture line the event was imported from (format 1.1 `source_line`). */
  readonly source_line?: number;
}

export type Outcome = 'ok' | 'diverged' | 'ran' | 'unknown' | 'unsupported';

export interface Counts {
  events: number;
  ok: number;
  diverged: number;
  ran: number;
  /** Events whose outcome the capture cannot decide: arguments it did not record (format 1.1). */
  unknown: number;
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
  readonly counts: Counts = { events: 0, ok: 0, diverged: 0, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 };
  readonly divergences: Divergence[] = [];
  /** Divergences past `maxDivergences`: counted, not kept. */
  divergencesOmitted = 0;
  readonly violations: ViolationRecord[] = [];
  /** Violations past `maxFindings`: counted, not kept. */
  violationsOmitted = 0;
  /** The kernel quirks the events brought about, looked for after every event that changed the state, `invariants` or not. */
  readonly quirks: QuirkRecord[] = [];
  /** Quirks past `maxFindings`: counted, not kept. */
  quirksOmitted = 0;
  /** The events that set off a crash or WARN of the release followed. */
  readonly findings: FindingRecord[] = [];
  /** Findings past `maxFindings`: counted, not kept. */
  findingsOmitted = 0;
  /** The bugs of the release followed that crashed or WARNed: none in the newest. */
  private readonly crashes: readonly ReleaseBug[];
  private readonly invariants: InvariantTracker;
  /** What events of undecided outcome reached: a divergence there is unsure. */
  private readonly unsureScopes = new UnsureScopes();

  constructor(
    header: TraceHeader,
    private readonly options: ReplayOptions,
    /** A snapshot an earlier replay of the same trace, with the same options, reached. */
    start?: World,
  ) {
    this.current = start ?? createWorld(header, options);
    this.invariants = options.invariantsFull === true ? new FullInvariantTracker() : new IncrementalInvariantTracker();
    this.crashes = bugsOf(this.current.config.kernel.release).filter((b) => b.crash !== undefined);
  }

  get world(): World {
    return this.current;
  }

  /**
   * Runs the invariants after an event, recording the violations that are new: those a bug of
   * the release followed brought about are its kernel quirks (src/kernel/release-quirks.ts).
   */
  private check(event: TraceEvent, before: World, result: Result, adopt: StepOptions): void {
    const found = [...checkStep(before, result.world, event, result)];
    if (result.world !== before || this.invariants.hasStanding) found.push(...this.invariants.check(result.world));
    const rerun = (world: World): StepOutcome | null => (event.argsOneOf === undefined ? step(world, event, adopt) : oneOf(event, world, adopt));
    const { violations, quirks } = attributeToRelease(before, event, found, this.options.bugs ?? new Set(), rerun);
    for (const v of violations) {
      if (!kept(this.violations, { line: event.line, seq: event.seq, op: event.op, ...v }, this.options.maxFindings)) this.violationsOmitted++;
    }
    for (const q of quirks) {
      if (!kept(this.quirks, { line: event.line, seq: event.seq, op: event.op, ...q }, this.options.maxFindings)) this.quirksOmitted++;
    }
  }

  /** Records the crashes and WARNs of the release followed that the event set off. */
  private noteFindings(event: TraceEvent, before: World, result: Result): void {
    for (const bug of this.crashes) {
      if (bug.crash?.triggers({ before, event, after: result.world, result }) !== true) continue;
      const finding = { line: event.line, seq: event.seq, op: event.op, bug: bug.name, fixed_by: bug.fixedBy, releases: releasesWith(bug) };
      if (!kept(this.findings, finding, this.options.maxFindings)) this.findingsOmitted++;
    }
  }

  /** Records the quirks an event that changed the state brought about: cheap, for `stepQuirks` walks only what changed. */
  private noteQuirks(event: TraceEvent, before: World, after: World): void {
    for (const q of stepQuirks(before, after)) {
      if (!kept(this.quirks, { line: event.line, seq: event.seq, op: event.op, ...q }, this.options.maxFindings)) this.quirksOmitted++;
    }
  }

  /**
   * An event the capture does not decide: not run, or run with outcomes that differ between the
   * values its unrecorded arguments may have had. The state stays as it was.
   */
  private undecided(event: TraceEvent, before: World): { readonly outcome: Outcome; readonly result: null; readonly before: World } {
    this.unsureScopes.add(before, event);
    this.counts.events++;
    this.counts.unknown++;
    return { outcome: 'unknown', result: null, before };
  }

  /** Replays one event and returns how it came out. */
  feed(event: TraceEvent): { readonly outcome: Outcome; readonly result: Result | null; readonly before: World } {
    const before = this.current;
    if (event.unknownArgs !== undefined) return this.undecided(event, before);
    const adopt = { adopt: !this.options.ownChoices };
    const stepped = event.argsOneOf === undefined ? step(before, event, adopt) : oneOf(event, before, adopt);
    if (stepped === null) return this.undecided(event, before);
    this.current = stepped.world;
    this.counts.events++;
    if (stepped.world !== before) this.noteQuirks(event, before, stepped.world);
    if (this.options.invariants === true && stepped.result !== null) this.check(event, before, stepped.result, adopt);
    if (this.crashes.length > 0 && stepped.result !== null) this.noteFindings(event, before, stepped.result);
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
    const after = event.unsure ? null : this.unsureScopes.reached(before, event);
    const unsure = event.unsure || after !== null;
    if (unsure) this.counts.unsure_diverged++;
    else this.counts.diverged++;
    if (this.divergences.length >= (this.options.maxDivergences ?? Infinity)) {
      this.divergencesOmitted++;
      return { outcome: 'diverged', result, before };
    }
    const rejected = [
      ...stepped.rejected.map((r) => `recorded ${r.field} ${JSON.stringify(toJson(r.recorded, r.field))} not adopted: ${r.reason}`),
      ...(after === null ? [] : [`unsure: after line ${after}, whose outcome the capture does not decide, reached the same place`]),
    ].join('; ');
    this.divergences.push({
      line: event.line,
      seq: event.seq,
      op: event.op,
      expected: expect === undefined ? null : expectJson(expect),
      actual: resultJson(result),
      ...(result.check === undefined ? {} : { check: result.check }),
      unsure,
      ...(rejected === '' ? {} : { note: rejected }),
      ...(event.sourceLine === undefined ? {} : { source_line: event.sourceLine }),
    });
    return { outcome: 'diverged', result, before };
  }
}

/** Appends `item` unless `list` already holds `max` items; whether it did. */
function kept<T>(list: T[], item: T, max = Infinity): boolean {
  if (list.length >= max) return false;
  list.push(item);
  return true;
}

/**
 * An `args_one_of` event, run once per combination of its values from the same state: decided
 * (the first run) when every run gives the same answer, else null.
 */
function oneOf(event: TraceEvent, before: World, adopt: StepOptions): StepOutcome | null {
  const runs = alternatives(event).map((alt) => step(before, alt, adopt));
  return new Set(runs.map((run) => answerOf(event, run))).size === 1 ? (runs[0] as StepOutcome) : null;
}

/** How one run of an `args_one_of` event comes out, and what it answered: every run must agree. */
function answerOf(event: TraceEvent, run: StepOutcome): string {
  if (run.result === null) return 'unsupported';
  const expect = expectationOf(event);
  const outcome = expect === undefined ? 'ran' : matches(expect, run.result, run.rejected) ? 'ok' : 'diverged';
  return `${outcome} ${JSON.stringify(resultJson(run.result))}`;
}

/** What the event says the system answered; a `CHECK` always asserts its `value`. */
export function expectationOf(event: TraceEvent): Expectation | undefined {
  if (event.op !== 'CHECK') return event.expect;
  const value = event.args?.fields['value'] ?? 0n;
  return { ...event.expect, out: { ...event.expect?.out, value } };
}

export function expectJson(expect: NonNullable<TraceEvent['expect']>): Json {
  const json: { [k: string]: Json } = {};
  if (expect.errno !== undefined) json['errno'] = expect.errno;
  if (expect.out !== undefined) json['out'] = toJson(expect.out);
  return json;
}
