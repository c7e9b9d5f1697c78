/**
 * One fuzz run: events applied to the model one by one, every invariant checked after each,
 * and each command also rerun with a failure injected at its 1st, 2nd, ... injection point,
 * which must fail with that errno and change nothing (but the kernel's partial effects). The
 * run is kept as trace lines, expectations filled in from the model, so a failure is a trace.
 */
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import { formatEvent } from '../../events/trace-writer.ts';
import type { TraceEvent } from '../../events/types.ts';
import { worldToJson } from '../../replay/snapshot.ts';
import { type StepOutcome, step } from '../model/dispatch.ts';
import { type Violation, checkStep, checkWorld } from '../invariants/invariants.ts';
import type { BugName } from '../model/mutants.ts';
import type { World } from '../model/world.ts';
import { createWorld } from '../model/world-init.ts';
import { attributeToRelease } from '../kernel/release-quirks.ts';
import { bugSwitchesOf } from '../kernel/release-bugs.ts';
import { violationKey } from '../invariants/state-checks.ts';
import { FUZZ_HEADER, type FuzzEvent } from './arbitraries.ts';
import { resolveFds } from './fd-refs.ts';

/** Injection points tried per command, at most (the kernel selftest allows 400 per test). */
const MAX_FAIL_NTH = 64;

export class FuzzViolation extends Error {
  constructor(
    readonly violation: Violation,
    readonly line: number,
    readonly op: string,
  ) {
    super(`[iommufd-model] line ${line} ${op}: invariant ${violation.invariant} violated: ${violation.detail}`);
  }
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}

export class FuzzSession {
  private world: World;
  /** The trace so far: the header, then each applied event with the model's result. */
  readonly lines: string[];
  /** Each step's result, for the determinism check. */
  readonly results: string[] = [];
  steps = 0;

  /** `kernel`: the release to run as, written into the trace's header as `env.kernel` (default: the newest). */
  constructor(
    private readonly faultInjection: boolean,
    private readonly bugs: ReadonlySet<BugName>,
    kernel?: string,
  ) {
    const header = kernel === undefined ? FUZZ_HEADER : { ...FUZZ_HEADER, env: { ...FUZZ_HEADER.env, kernel } };
    this.lines = [JSON.stringify(header)];
    this.world = createWorld(parseHeader(header), { bugs });
  }

  get snapshot(): World {
    return this.world;
  }

  /** Applies one event, its fd references resolved in the state it meets; throws FuzzViolation when an invariant breaks. */
  apply(raw: FuzzEvent): void {
    const line = this.lines.length + 1;
    const before = this.world;
    const event = parseEvent(resolveFds(before, raw), line);
    const outcome = step(before, event, { adopt: false });
    this.world = outcome.world;
    this.steps++;
    this.record(event, outcome);
    this.fail(event, line, this.violations(before, outcome, event));
    if (this.faultInjection && outcome.result !== null && !outcome.unissued) this.inject(event, before, line);
  }

  /**
   * Every violation of the new state, from the whole-state check (`checkWorld`), not the
   * incremental tracker `replay --invariants` uses: a fuzz state holds a few objects, so the full
   * check costs little here, it is the reference the incremental one is tested against, and each
   * fail_nth rerun branches off the state before the command, where a tracker follows one line
   * of snapshots. What a bug of the release followed breaks is its kernel quirk, not a violation.
   */
  private violations(before: World, outcome: StepOutcome, event: TraceEvent): Violation[] {
    const found = outcome.result === null ? [] : checkStep(before, outcome.world, event, outcome.result);
    if (outcome.world !== before) found.push(...checkWorld(outcome.world));
    const { violations } = attributeToRelease(before, event, found, this.bugs, (world) => step(world, event, { adopt: false }));
    if (violations.length === 0 || bugSwitchesOf(before.config.kernel.release).length === 0) return violations;
    // The whole state is checked after every step, so what a release's bug broke earlier stands
    // on: a run stops at its first violation, so whatever stood before this step was a quirk.
    const stood = new Set(checkWorld(before).map(violationKey));
    return violations.filter((v) => !stood.has(violationKey(v)));
  }

  private fail(event: TraceEvent, line: number, found: readonly Violation[]): void {
    const first = found[0];
    if (first !== undefined) throw new FuzzViolation(first, line, event.op);
  }

  private record(event: TraceEvent, outcome: StepOutcome, failNth?: number): void {
    const result = outcome.result;
    const expect = result === null ? undefined : result.errno === null ? { out: result.out } : { errno: result.errno };
    const written: TraceEvent = {
      ...event,
      ...(failNth === undefined ? {} : { failNth }),
      ...(expect === undefined ? {} : { expect }),
    };
    this.results.push(JSON.stringify([result?.errno ?? null, result?.out ?? null], bigintJson));
    this.lines.push(formatEvent(written));
  }

  /**
   * fail_nth, as the kernel selftest drives it: rerun the command from the same state failing
   * at point k = 1, 2, ... until the command no longer reaches point k.
   */
  private inject(event: TraceEvent, before: World, line: number): void {
    for (let k = 1; k <= MAX_FAIL_NTH; k++) {
      const injected = { ...event, failNth: k };
      const outcome = step(before, injected, { adopt: false });
      if (outcome.injected !== true) return;
      const found = this.violations(before, outcome, injected);
      if (outcome.result?.errno === null) {
        found.push({ invariant: 'injected-failure-reported', detail: `fail_nth ${k} was reached but ${event.op} succeeded` });
      }
      if (found.length > 0) {
        // The counterexample ends with the injected run in place of the real one.
        this.lines.pop();
        this.results.pop();
        this.record(event, outcome, k);
        this.fail(event, line, found);
      }
    }
  }

  /** The final snapshot as canonical JSON, for the determinism check. */
  fingerprint(): string {
    return JSON.stringify(worldToJson(this.world));
  }
}
