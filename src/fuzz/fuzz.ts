/**
 * Model-based fuzzing with fast-check: `fc.commands` over trace events, every invariant
 * checked after every step, failure injection per command, and a determinism check per run
 * (the run replayed from scratch gives the same results and the same final snapshot). A
 * failure shrinks to a minimal command sequence and comes back as a trace.
 */
import fc from 'fast-check';
import type { BugName } from '../model/mutants.ts';
import { FuzzSession } from './session.ts';
import { type FuzzEvent, PROLOGUE, eventArbitrary } from './arbitraries.ts';

export interface FuzzOptions {
  readonly seed: number;
  readonly runs: number;
  readonly maxSteps: number;
  /** Only these ops (default: every op the fuzzer generates). */
  readonly ops?: readonly string[];
  /** fast-check's path of a failure, to replay it. */
  readonly path?: string;
  readonly faultInjection?: boolean;
  /** Deliberate bugs to switch on in the model (default: none). */
  readonly bugs?: ReadonlySet<BugName>;
  /** Shrink a failure to a minimal run (default); off, the first failing run is reported as found. */
  readonly shrink?: boolean;
  /** Called after each run (shrinking runs included). */
  readonly onRun?: () => void;
}

export interface Counterexample {
  /** What broke, where. */
  readonly message: string;
  /** The shrunk run as a trace (header, events, the failing one last). */
  readonly trace: string;
  readonly seed: number;
  readonly path: string;
  readonly shrunkSteps: number;
  /** The bugs that were on: replaying the trace reproduces the failure only with them. */
  readonly bugs: readonly BugName[];
}

export interface FuzzResult {
  readonly runs: number;
  readonly steps: number;
  readonly counterexample: Counterexample | null;
}

/** The event behind a command fast-check hands back (it wraps each in a `CommandWrapper`). */
function eventOf(command: unknown): FuzzEvent {
  const wrapped = (command as { cmd?: unknown }).cmd ?? command;
  return (wrapped as EventCommand).event;
}

class EventCommand implements fc.Command<object, FuzzSession> {
  constructor(readonly event: FuzzEvent) {}
  check(): boolean {
    return true;
  }
  run(_model: object, session: FuzzSession): void {
    session.apply(this.event);
  }
  toString(): string {
    return JSON.stringify(this.event);
  }
}

/** Replaying a run from scratch must give the same results and the same final snapshot. */
function checkDeterminism(session: FuzzSession, events: readonly FuzzEvent[], bugs: ReadonlySet<BugName>): void {
  const again = new FuzzSession(false, bugs);
  for (const e of [...PROLOGUE, ...events]) again.apply(e);
  if (again.fingerprint() !== session.fingerprint() || again.results.join('\n') !== session.results.join('\n')) {
    throw new Error('[iommufd-model] replaying the same events gave a different result or final snapshot');
  }
}

export function fuzz(options: FuzzOptions): FuzzResult {
  const faultInjection = options.faultInjection ?? true;
  const bugs = options.bugs ?? new Set<BugName>();
  const commands = fc.commands(
    [eventArbitrary(options.ops).map((e) => new EventCommand(e))],
    { maxCommands: options.maxSteps, size: 'max' },
  );
  let runs = 0;
  let steps = 0;
  const property = fc.property(commands, (cmds) => {
    runs++;
    const session = new FuzzSession(faultInjection, bugs);
    try {
      fc.modelRun(() => {
        for (const e of PROLOGUE) session.apply(e);
        return { model: {}, real: session };
      }, cmds);
    } finally {
      steps += session.steps;
      options.onRun?.();
    }
    checkDeterminism(session, [...cmds].map(eventOf), bugs);
  });
  const details = fc.check(property, {
    seed: options.seed,
    numRuns: options.runs,
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.path !== undefined || options.shrink === false ? { endOnFailure: true } : {}),
  });
  if (!details.failed || details.counterexample === null) return { runs, steps, counterexample: null };
  const shrunk = [...(details.counterexample[0] as Iterable<unknown>)].map(eventOf);
  return { runs, steps, counterexample: describe(shrunk, faultInjection, bugs, details.seed, details.counterexamplePath ?? '') };
}

/** Reruns the shrunk events to get the trace up to (and including) the failing event. */
function describe(events: readonly FuzzEvent[], faultInjection: boolean, bugs: ReadonlySet<BugName>, seed: number, path: string): Counterexample {
  const session = new FuzzSession(faultInjection, bugs);
  let message = 'no violation reproduced';
  try {
    for (const e of [...PROLOGUE, ...events]) session.apply(e);
    checkDeterminism(session, events, bugs);
  } catch (e: unknown) {
    if (!(e instanceof Error)) throw e;
    message = e.message;
  }
  const header = JSON.parse(session.lines[0] as string) as Record<string, unknown>;
  const withBugs = bugs.size === 0 ? '' : ` with bugs ${[...bugs].join(',')}`;
  const trace = [
    JSON.stringify({ ...header, description: `fuzz counterexample${withBugs}, seed ${seed}, path ${path}: ${message}` }),
    ...session.lines.slice(1),
  ].join('\n');
  return { message, trace: `${trace}\n`, seed, path, shrunkSteps: events.length, bugs: [...bugs] };
}
