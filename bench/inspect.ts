/**
 * Going back in a long trace: on a generated trace of a million events (the churn of churn-trace.ts
 * on 1,000 live areas, without a device), the first pass of `inspect` with its checkpoints every
 * K events, then the time to reach random events, against replaying K events in that pass, and
 * what the checkpoints cost in memory, against the last state alone. Heap sizes are taken after
 * a full garbage collection.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Timeline } from '../replay/inspect/timeline.ts';
import type { World } from '../src/model/world.ts';
import { writeChurnTrace } from './churn-trace.ts';
import { cpuMicros, median } from './clock.ts';
import { PythonRandom } from './python-random.ts';
import { TooSlow } from './scale.ts';

/** Churn pairs: with the fill and the ends, just over a million events. */
const CHURN = 499_500;
const REACHES = 50;

export interface InspectCosts {
  readonly events: number;
  readonly every: number;
  readonly checkpoints: number;
  /** CPU seconds of the first pass. */
  readonly passSeconds: number;
  /** CPU ms to reach an event after the first pass: median and greatest of `REACHES` random ones. */
  readonly reachMedianMs: number;
  readonly reachMaxMs: number;
  /** Heap bytes the checkpoints hold beyond the last state, and the last state's own. */
  readonly checkpointBytes: number;
  readonly stateBytes: number;
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export async function inspectCosts(file: string, deadline: number): Promise<InspectCosts> {
  const gc = collector();
  writeChurnTrace(file, { live: 1000, churn: CHURN, device: false });
  gc();
  const empty = process.memoryUsage().heapUsed;
  let timeline: Timeline | null = await Timeline.open(file, { ownChoices: false });
  const t0 = cpuMicros();
  while (await timeline.advance()) {
    if ((timeline.reached.ordinal & 4095) === 0 && performance.now() > deadline) {
      const done = timeline.reached.ordinal;
      await timeline.close();
      throw new TooSlow(`first pass: ${done} events in the time allowed`);
    }
  }
  const passSeconds = (cpuMicros() - t0) / 1e6;
  const events = timeline.reached.ordinal;
  const rnd = new PythonRandom(20261125);
  const reaches: number[] = [];
  for (let i = 0; i < REACHES; i++) {
    const n = rnd.randrange(events + 1);
    const t = cpuMicros();
    await timeline.at(n);
    reaches.push((cpuMicros() - t) / 1000);
  }
  const checkpoints = timeline.checkpoints.length;
  const every = timeline.every;
  gc();
  const withCheckpoints = process.memoryUsage().heapUsed;
  // The last state is held through the measure, and let go after it.
  const held: World[] = [timeline.reached.world];
  await timeline.close();
  timeline = null;
  gc();
  const lastOnly = process.memoryUsage().heapUsed;
  held.pop();
  return {
    events,
    every,
    checkpoints,
    passSeconds,
    reachMedianMs: median(reaches),
    reachMaxMs: Math.max(...reaches),
    checkpointBytes: withCheckpoints - lastOnly,
    stateBytes: lastOnly - empty,
  };
}
