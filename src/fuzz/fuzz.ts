/**
 * Model-based fuzzing with fast-check: `fc.commands` over trace events, every invariant
 * checked after every step, failure injection per command, and a determinism check per run
 * (the run replayed from scratch gives the same results and the same final snapshot). A
 * failure shrinks to a minimal command sequence and comes back as a trace. Each run of a
 * campaign is made alone from the campaign's seed and its index (`runSeed`), so that any split
 * of the campaign makes the same runs; the campaign's counterexample is its first failing run.
 */
import fc from 'fast-check';
import type { BugName } from '../model/mutants.ts';
import { runSeed } from './run-seed.ts';
import { FuzzSession } from './session.ts';
import { type Tally, tally } from './tally.ts';
import { COMMANDS, type FuzzEvent, PROLOGUE, stepArbitrary } from './arbitraries.ts';

/** The ops the fuzzer generates, which `ops` may choose from. */
export const FUZZ_OPS: readonly string[] = Object.keys(COMMANDS);

/** What makes a campaign's runs: every run of the same campaign options is the same run. */
export interface CampaignOptions {
  readonly seed: number;
  readonly maxSteps: number;
  /** Only these ops (default: every op the fuzzer generates). */
  readonly ops?: readonly string[];
  readonly faultInjection?: boolean;
  /** Deliberate bugs to switch on in the model (default: none). */
  readonly bugs?: ReadonlySet<BugName>;
  /** `--kernel`: the release the model follows (default: the newest). */
  readonly kernel?: string;
  /** Shrink a failure to a minimal run (default); off, the first failing run is reported as found. */
  readonly shrink?: boolean;
}

export interface FuzzOptions extends CampaignOptions {
  /** Runs 0 to `runs` - 1 are made, up to the first that fails. */
  readonly runs: number;
  /** Called after each run (shrinking runs included). */
  readonly onRun?: () => void;
}

export interface Counterexample {
  /** What broke, where. */
  readonly message: string;
  /** The shrunk run as a trace (header, events, the failing one last). */
  readonly trace: string;
  /** The campaign's seed. */
  readonly seed: number;
  /** The failing run's index: `--seed <seed> --run <run> --path <path>` reruns it alone. */
  readonly run: number;
  /** The way to the shrunk failure within the run (`failurePath`). */
  readonly path: string;
  readonly shrunkSteps: number;
  /** The bugs that were on: replaying the trace reproduces the failure only with them. */
  readonly bugs: readonly BugName[];
  /** The runs and steps spent shrinking, after the failing run itself. */
  readonly shrinkRuns: number;
  readonly shrinkSteps: number;
}

/** One run of a campaign. */
export interface RunOutcome {
  readonly run: number;
  /** The run's steps as generated (shrinking apart). */
  readonly steps: number;
  readonly counterexample: Counterexample | null;
}

export type FuzzResult = Tally<Counterexample>;

/** The events behind a command fast-check hands back (it wraps each in a `CommandWrapper`). */
function eventsOf(command: unknown): readonly FuzzEvent[] {
  const wrapped = (command as { cmd?: unknown }).cmd ?? command;
  return (wrapped as EventCommand).events;
}

/** One command: an event, or a sequence of events generated together. */
class EventCommand implements fc.Command<object, FuzzSession> {
  constructor(readonly events: readonly FuzzEvent[]) {}
  check(): boolean {
    return true;
  }
  run(_model: object, session: FuzzSession): void {
    for (const e of this.events) session.apply(e);
  }
  toString(): string {
    return this.events.map((e) => JSON.stringify(e)).join(' ');
  }
}

/** Replaying a run from scratch must give the same results and the same final snapshot. */
function checkDeterminism(session: FuzzSession, events: readonly FuzzEvent[], bugs: ReadonlySet<BugName>, kernel: string | undefined): void {
  const again = new FuzzSession(false, bugs, kernel);
  for (const e of [...PROLOGUE, ...events]) again.apply(e);
  if (again.fingerprint() !== session.fingerprint() || again.results.join('\n') !== session.results.join('\n')) {
    throw new Error('[iommufd-model] replaying the same events gave a different result or final snapshot');
  }
}

/**
 * The way to a shrunk failure within its run, as `--path` takes it: fast-check's path (the run,
 * then the shrink taken at each step), then `@` and `fc.commands`' replay path (which commands
 * ran at each step). fast-check follows the path without running the steps in between, so
 * without the replay path it cannot tell which commands a step may drop.
 */
function failurePath(path: string, cmds: unknown): string {
  if (!path.includes(':')) return path;
  const replay = /\/\*replayPath=("[^"]*")\*\/$/.exec(String(cmds))?.[1];
  return replay === undefined ? path : `${path}@${JSON.parse(replay) as string}`;
}

/** The runs of one campaign, each made alone from the campaign's seed and its index. */
export class Campaign {
  private readonly faultInjection: boolean;
  private readonly bugs: ReadonlySet<BugName>;
  private readonly command: fc.Arbitrary<EventCommand>;
  private readonly commands: fc.Arbitrary<Iterable<fc.Command<object, FuzzSession>>>;

  constructor(private readonly options: CampaignOptions) {
    this.faultInjection = options.faultInjection ?? true;
    this.bugs = options.bugs ?? new Set<BugName>();
    this.command = stepArbitrary(options.ops).map((e) => new EventCommand(e));
    this.commands = this.commandsFor(undefined);
  }

  private commandsFor(replayPath: string | undefined): fc.Arbitrary<Iterable<fc.Command<object, FuzzSession>>> {
    return fc.commands([this.command], { maxCommands: this.options.maxSteps, size: 'max', ...(replayPath === undefined ? {} : { replayPath }) });
  }

  /**
   * Makes run `run`, shrinking it when it fails (unless `shrink` is off). With `path`, the run
   * goes straight to the failure fast-check's path leads to and stops there: the rerun a
   * counterexample prints.
   */
  run(run: number, hooks: { readonly path?: string; readonly onRun?: () => void } = {}): RunOutcome {
    let runs = 0;
    let steps = 0;
    let firstSteps = 0;
    const [path, replayPath] = hooks.path?.split(/@(.*)/) ?? [];
    const commands = replayPath === undefined ? this.commands : this.commandsFor(replayPath);
    const property = fc.property(commands, (cmds) => {
      const session = new FuzzSession(this.faultInjection, this.bugs, this.options.kernel);
      try {
        fc.modelRun(() => {
          for (const e of PROLOGUE) session.apply(e);
          return { model: {}, real: session };
        }, cmds);
      } finally {
        if (++runs === 1) firstSteps = session.steps;
        steps += session.steps;
        hooks.onRun?.();
      }
      checkDeterminism(session, [...cmds].flatMap(eventsOf), this.bugs, this.options.kernel);
    });
    const details = fc.check(property, {
      seed: runSeed(this.options.seed, run),
      numRuns: 1,
      ...(path === undefined ? {} : { path }),
      ...(path !== undefined || this.options.shrink === false ? { endOnFailure: true } : {}),
    });
    if (!details.failed || details.counterexample === null) return { run, steps: firstSteps, counterexample: null };
    const [cmds] = details.counterexample;
    const shrunk = [...(cmds as Iterable<unknown>)].flatMap(eventsOf);
    const where = { seed: this.options.seed, run, path: hooks.path ?? failurePath(details.counterexamplePath ?? '', cmds) };
    const found = describe(shrunk, this.faultInjection, this.bugs, this.options.kernel, where);
    return { run, steps: firstSteps, counterexample: { ...found, shrinkRuns: runs - 1, shrinkSteps: steps - firstSteps } };
  }
}

/** A campaign's runs 0, 1, ... one after the other, up to the first that fails. */
export function fuzz(options: FuzzOptions): FuzzResult {
  const campaign = new Campaign(options);
  const hooks = options.onRun === undefined ? {} : { onRun: options.onRun };
  function* runs() {
    for (let run = 0; run < options.runs; run++) yield campaign.run(run, hooks);
  }
  return tally(runs());
}

/** Reruns the shrunk events to get the trace up to (and including) the failing event. */
function describe(
  events: readonly FuzzEvent[],
  faultInjection: boolean,
  bugs: ReadonlySet<BugName>,
  kernel: string | undefined,
  where: { readonly seed: number; readonly run: number; readonly path: string },
): Omit<Counterexample, 'shrinkRuns' | 'shrinkSteps'> {
  const session = new FuzzSession(faultInjection, bugs, kernel);
  let message = 'no violation reproduced';
  try {
    for (const e of [...PROLOGUE, ...events]) session.apply(e);
    checkDeterminism(session, events, bugs, kernel);
  } catch (e: unknown) {
    if (!(e instanceof Error)) throw e;
    message = e.message;
  }
  const header = JSON.parse(session.lines[0] as string) as Record<string, unknown>;
  const withBugs = bugs.size === 0 ? '' : ` with bugs ${[...bugs].join(',')}`;
  const trace = [
    JSON.stringify({ ...header, description: `fuzz counterexample${withBugs}, seed ${where.seed}, run ${where.run}, path ${where.path}: ${message}` }),
    ...session.lines.slice(1),
  ].join('\n');
  return { message, trace: `${trace}\n`, ...where, shrunkSteps: events.length, bugs: [...bugs] };
}
