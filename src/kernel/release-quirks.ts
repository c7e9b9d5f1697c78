/**
 * An invariant broken by a bug the release had is the model being faithful to that release: a
 * kernel quirk of it, not a violation. A violation is the release's when the same step, rerun
 * with that bug's switch off, does not break it. Switches turned on deliberately (`--bugs`) are
 * never the release's: what they break stays a violation.
 */
import type { TraceEvent } from '../../events/types.ts';
import type { StepOutcome } from '../model/dispatch.ts';
import type { BugName } from '../model/mutants.ts';
import type { World } from '../model/world.ts';
import { type Quirk, type Violation, checkStep, checkWorld } from '../invariants/invariants.ts';
import { violationKey } from '../invariants/state-checks.ts';
import { type ReleaseBug, bugsOf, releaseSpan, releasesWith } from './release-bugs.ts';

export interface Attributed {
  readonly violations: Violation[];
  readonly quirks: Quirk[];
}

/** What a step breaks: its step invariants and every state invariant of where it ends. */
function broken(before: World, outcome: StepOutcome | null, event: TraceEvent): ReadonlySet<string> {
  if (outcome === null || outcome.result === null) return new Set();
  return new Set([...checkStep(before, outcome.world, event, outcome.result), ...checkWorld(outcome.world)].map(violationKey));
}

/**
 * Splits the violations `found` at `event` into the model's and the release's. `deliberate`:
 * the switches `--bugs` turned on; `rerun`: the step again from another state, as the caller
 * steps (recorded choices adopted or not).
 */
export function attributeToRelease(
  before: World,
  event: TraceEvent,
  found: readonly Violation[],
  deliberate: ReadonlySet<BugName>,
  rerun: (world: World) => StepOutcome | null,
): Attributed {
  if (found.length === 0) return { violations: [], quirks: [] };
  const own = bugsOf(before.config.kernel.release).filter((b): b is ReleaseBug & { switch: BugName } => b.switch !== undefined && !deliberate.has(b.switch));
  if (own.length === 0) return { violations: [...found], quirks: [] };
  let left = [...found];
  const quirks: Quirk[] = [];
  for (const bug of own) {
    const bugs = new Set(before.config.bugs);
    bugs.delete(bug.switch);
    const without: World = { ...before, config: { ...before.config, bugs } };
    const still = broken(without, rerun(without), event);
    const mine = left.filter((v) => !still.has(violationKey(v)));
    for (const v of mine) {
      quirks.push({ quirk: bug.name, detail: `${v.invariant}: ${v.detail} (a bug of ${releaseSpan(releasesWith(bug))}, fixed by ${bug.fixedBy})` });
    }
    left = left.filter((v) => still.has(violationKey(v)));
  }
  return { violations: left, quirks };
}
