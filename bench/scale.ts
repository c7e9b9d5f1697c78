/**
 * What one event costs as the number of live areas grows, measured on the model itself
 * (`createWorld` + `step`): the state is built untimed, then only the events under test are
 * timed, in CPU time. The model is pure, so a measured event can be stepped again from the same
 * snapshot. Building a large state may be slow: past its deadline (wall time, which is what a
 * person waits for) a figure gives up with `TooSlow`.
 */
import { readFileSync } from 'node:fs';
import { parseTraceText } from '../events/index.ts';
import type { TraceEvent } from '../events/types.ts';
import { step } from '../src/model/dispatch.ts';
import { createWorld } from '../src/model/world-init.ts';
import type { World } from '../src/model/world.ts';
import { cpuMicros, median } from './clock.ts';
import { autoIovaTrace } from './auto-iova-trace.ts';
import { churnTrace } from './churn-trace.ts';
import type { TraceLine } from './trace-lines.ts';

export class TooSlow extends Error {}

const seconds = (t0: number): number => (performance.now() - t0) / 1000;

function parseLines(lines: Iterable<TraceLine>): { world: World; events: TraceEvent[] } {
  const text = Array.from(lines, (l) => JSON.stringify(l)).join('\n');
  const trace = parseTraceText(text);
  return { world: createWorld(trace.header), events: trace.events };
}

/** One event that must succeed; its CPU time in µs. */
function timedStep(world: World, event: TraceEvent, adopt: boolean): { world: World; us: number; out: unknown } {
  const t0 = cpuMicros();
  const { world: next, result } = step(world, event, { adopt });
  const us = cpuMicros() - t0;
  if (result === null || result.errno !== null) {
    throw new Error(`line ${event.line} ${event.op} gave ${result === null ? 'unsupported' : result.errno}`);
  }
  return { world: next, us, out: result.out };
}

/** Steps `events[from, to)`, untimed; gives up after `deadline` (a `performance.now()` time). */
function build(world: World, events: readonly TraceEvent[], from: number, to: number, deadline: number, what: string): World {
  const t0 = performance.now();
  let w = world;
  for (let i = from; i < to; i++) {
    w = timedStep(w, events[i] as TraceEvent, true).world;
    if ((i & 255) === 0 && performance.now() > deadline) {
      throw new TooSlow(`${what}: ${i - from} of ${to - from} events in ${seconds(t0).toFixed(0)} s`);
    }
  }
  return w;
}

export interface ChurnCosts {
  /** Mean CPU µs of a 4 KiB fixed-IOVA map, and of a 4 KiB unmap, with `live` areas mapped. */
  readonly mapUs: number;
  readonly unmapUs: number;
  /** Wall seconds, the state's building included. */
  readonly seconds: number;
}

/** The churn trace (see churn-trace.ts) with a device: fill untimed, every churn event timed. */
export function churnCosts(live: number, churn: number, deadline: number): ChurnCosts {
  const t0 = performance.now();
  const { world, events } = parseLines(churnTrace({ live, churn, device: true }));
  const prologue = 3; // OPEN, IOAS_ALLOC, TEST_MOCK_DOMAIN
  let w = build(world, events, 0, prologue + live, deadline, `filling ${live} areas`);
  let map = 0;
  let unmap = 0;
  for (let i = prologue + live; i < prologue + live + 2 * churn; i += 2) {
    const u = timedStep(w, events[i] as TraceEvent, true);
    const m = timedStep(u.world, events[i + 1] as TraceEvent, true);
    unmap += u.us;
    map += m.us;
    w = m.world;
  }
  return { mapUs: map / churn, unmapUs: unmap / churn, seconds: seconds(t0) };
}

/** CPU µs per area of one unmap of everything (`length` U64_MAX) over `live` areas; the median of `repeat`. */
export function unmapAllPerArea(live: number, repeat: number, deadline: number): number {
  const { world, events } = parseLines(churnTrace({ live, churn: 0, device: true }));
  const all = events.length - 2;
  const w = build(world, events, 0, all, deadline, `filling ${live} areas`);
  const times = Array.from({ length: repeat }, () => timedStep(w, events[all] as TraceEvent, true).us);
  return median(times) / live;
}

/** Mean CPU µs of an automatic-IOVA map whose first fit lies past all `live` areas (auto-iova-trace.ts). */
export function autoIovaPerMap(live: number, maps: number, deadline: number): number {
  const { world, events } = parseLines(autoIovaTrace({ live, maps }));
  const fill = 3 + live; // OPEN, IOAS_ALLOC, TEST_MOCK_DOMAIN, the fixed maps
  let w = build(world, events, 0, fill, deadline, `filling ${live} areas`);
  let total = 0;
  for (let i = fill; i < events.length; i++) {
    const event = events[i] as TraceEvent;
    // The model's own choice, checked against the one the scenario is built to force.
    const s = timedStep(w, event, false);
    const want = event.expect?.out?.['iova'];
    const got = (s.out as { iova?: unknown }).iova;
    if (got !== want) throw new Error(`line ${event.line}: the allocator chose ${String(got)}, not ${String(want)}`);
    total += s.us;
    w = s.world;
  }
  return total / maps;
}

/** The files as `JSON.parse` alone sees them: read, split into lines, parse each; CPU seconds. */
export function parseOnly(files: readonly string[]): number {
  const t0 = cpuMicros();
  let n = 0;
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line !== '') n += JSON.parse(line) === null ? 0 : 1;
  }
  if (n === 0) throw new Error('no lines parsed');
  return (cpuMicros() - t0) / 1e6;
}
