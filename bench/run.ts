/**
 * Benchmarks (not tests), against the targets in the table they end with. Figures are ratios of
 * two measurements taken in this one run where they can be, so that a busy or slower machine
 * moves both sides alike; in-process times are CPU time (clock.ts). Each figure is printed as it
 * is measured. One whose state would take too long to build is skipped, saying why, so the run
 * always ends in a few minutes; one that breaks says so and the others still run.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { transition } from 'xstate';
import { initialRecord, nextRecord } from '../machines/adapter.ts';
import { ioasMachine } from '../machines/ioas.machine.ts';
import { replayFiles } from '../replay/replay-file.ts';
import { fuzz } from '../src/fuzz/fuzz.ts';
import { bugSet } from '../src/model/mutants.ts';
import { writeChurnTrace } from './churn-trace.ts';
import { cpuMicros, cpuSeconds, median } from './clock.ts';
import { extentWorkload } from './extents.ts';
import { type ChurnCosts, TooSlow, autoIovaPerMap, churnCosts, parseOnly, unmapAllPerArea } from './scale.ts';
import { replayJobs } from './jobs.ts';
import { startup } from './startup.ts';
import { inspectCosts } from './inspect.ts';

/** Churn pairs (unmap + map) timed at every size. */
const CHURN = 5000;
/** The churn at 100k live areas runs only if the one at 10k took less than this. */
const CHURN_10K_MAX_SECONDS = 15;
/** The longest a figure may spend building its state. */
const BUILD_SECONDS = 90;
const STARTUP_RUNS = 20;
/** Runs of the corpus replay at each --jobs, the median kept. */
const JOBS_RUNS = 3;
/** Runs of the extent workload per size, the median kept. */
const EXTENT_RUNS = 51;
/** The longest the million-event inspect figures may take, first pass included (wall time). */
const INSPECT_SECONDS = 300;
const GIB = 2 ** 30;
const TIB = 2 ** 40;

interface Target {
  readonly at: 'least' | 'most';
  readonly bound: number;
  readonly unit: string;
}

interface Row {
  readonly figure: string;
  readonly measured: string;
  readonly target: Target | null;
  /** `null` without a target, or when the figure could not be measured. */
  readonly met: boolean | null;
}

const rows: Row[] = [];
const say = (s: string): void => void process.stdout.write(`${s}\n`);
const deadline = (): number => performance.now() + BUILD_SECONDS * 1000;
/** A ratio to two decimals, or three when two would round it onto its bound and hide the verdict. */
function ratio(x: number, target: Target | null): string {
  const digits = x >= 10 ? 1 : target !== null && x !== target.bound && x.toFixed(2) === target.bound.toFixed(2) ? 3 : 2;
  return `${x.toFixed(digits)}x`;
}
const atLeast = (bound: number, unit = 'x'): Target => ({ at: 'least', bound, unit });
const atMost = (bound: number, unit = 'x'): Target => ({ at: 'most', bound, unit });

function record(figure: string, value: number, target: Target | null, measured = ratio(value, target)): void {
  const met = target === null ? null : target.at === 'least' ? value >= target.bound : value <= target.bound;
  rows.push({ figure, measured, target, met });
}

/** Measures figures; when that is too slow or breaks, each is a row saying so, and the others still run. */
async function attempt(figures: readonly (readonly [string, Target | null])[], body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    const measured = e instanceof TooSlow ? `skipped: ${why}` : `failed: ${why}`;
    for (const [figure, target] of figures) {
      say(`${figure}: ${measured}`);
      rows.push({ figure, measured, target, met: null });
    }
  }
}

/** The directory of this package's package.json, from bench/ (tsx) or dist/bench/ (built). */
function packageRoot(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'iommufd-model') return dir;
  }
  throw new Error('no iommufd-model package.json above the bench');
}

/** CPU µs of one machine step through the adapter and through xstate's public `transition()`. */
function xstateStep(n: number): { adapter: number; publicTransition: number } {
  let rec = initialRecord(ioasMachine);
  let t0 = cpuMicros();
  for (let i = 0; i < n; i++) rec = nextRecord(ioasMachine, rec, { type: 'AREAS_CHANGED', count: i % 3 });
  const adapter = (cpuMicros() - t0) / n;
  let snap = ioasMachine.resolveState({ value: 'empty', context: { users: 1 } });
  t0 = cpuMicros();
  for (let i = 0; i < n; i++) [snap] = transition(ioasMachine, snap, { type: 'AREAS_CHANGED', count: i % 3 });
  const publicTransition = (cpuMicros() - t0) / n;
  return { adapter, publicTransition };
}

const k = (n: number): string => `${n / 1000}k`;
const us = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} µs`;

/**
 * A cost at a small and a large size. The small one is measured before and after the large one
 * and the lower kept: code still being compiled makes the first run of a size the slowest.
 */
function smallAndLarge(measure: (size: number) => number, small: number, large: number): { small: number; large: number } {
  measure(small); // warm-up
  const before = measure(small);
  const at = measure(large);
  return { small: Math.min(before, measure(small)), large: at };
}

async function main(root: string, tmp: string): Promise<void> {
  say(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; one core used, but by the --jobs figure`);
  say('in-process figures are CPU time; start-up is wall time');

  const startupFigure = 'startup: replay of 1 event vs node -e 0';
  await attempt([[startupFigure, atMost(2)]], () => {
    const s = startup(root, tmp, STARTUP_RUNS);
    say(`startup (median of ${STARTUP_RUNS}): ${s.command} ${s.commandMs.toFixed(0)} ms, node -e 0 ${s.nodeMs.toFixed(0)} ms`);
    record(startupFigure, s.commandMs / s.nodeMs, atMost(2));
  });

  const xstateFigure = 'xstate: public transition() vs the adapter';
  await attempt([[xstateFigure, null]], () => {
    xstateStep(2000); // warm-up
    const x = xstateStep(20000);
    say(`xstate step, CPU: adapter ${us(x.adapter)}, public transition() ${us(x.publicTransition)}`);
    record(xstateFigure, x.publicTransition / x.adapter, null);
  });

  // Fuzzing also warms up the model for the replay figures below.
  for (const faultInjection of [true, false]) {
    const figure = `fuzz ${faultInjection ? 'with' : 'without'} faults, steps per CPU-second`;
    const target = faultInjection ? atLeast(20000, ' steps/CPU-s') : null;
    await attempt([[figure, target]], async () => {
      let steps = 0;
      const cpu = await cpuSeconds(() => {
        steps = fuzz({ seed: 1, runs: 300, maxSteps: 200, faultInjection }).steps;
      });
      say(`fuzz ${faultInjection ? 'with' : 'without'} fail_nth reruns: ${steps} steps in ${cpu.toFixed(1)} CPU-s`);
      record(figure, steps / cpu, target, `${Math.round(steps / cpu)} steps/CPU-s`);
    });
  }

  const shrinkFigure = 'find and shrink a planted bug';
  await attempt([[shrinkFigure, null]], async () => {
    let shrunk: number | undefined;
    const cpu = await cpuSeconds(() => {
      shrunk = fuzz({ seed: 3, runs: 50, maxSteps: 1000, bugs: bugSet(['double-charge']) }).counterexample?.shrunkSteps;
    });
    const found = shrunk === undefined ? 'not found' : `shrunk to ${shrunk} commands`;
    say(`find and shrink a planted bug (double-charge) in runs of up to 1,000 steps: ${cpu.toFixed(2)} CPU-s, ${found}`);
    record(shrinkFigure, cpu, null, `${cpu.toFixed(2)} CPU-s, ${found}`);
  });

  const corpusFigure = 'corpus replay speed vs JSON.parse';
  const invariantsFigure = '--invariants: corpus replay time with vs without';
  await attempt([[corpusFigure, atLeast(0.5)], [invariantsFigure, atMost(1.5)]], async () => {
    const dir = join(root, 'test/conformance/corpus');
    const corpus = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
    const parseS = median([0, 1, 2].map(() => parseOnly(corpus)));
    let events = 0;
    const replay = (invariants: boolean): Promise<number> =>
      cpuSeconds(async () => {
        events = (await replayFiles(corpus, { ownChoices: false, invariants })).totals.events;
      });
    // Plain replay before and after the checked one, the lower kept (as in smallAndLarge).
    const before = await replay(false);
    const checkedS = await replay(true);
    const replayS = Math.min(before, await replay(false));
    say(`corpus (${corpus.length} files, ${events} events): replay ${replayS.toFixed(2)} CPU-s, with --invariants ${checkedS.toFixed(2)} CPU-s; read + split + JSON.parse ${parseS.toFixed(2)} CPU-s`);
    record(corpusFigure, parseS / replayS, atLeast(0.5));
    record(invariantsFigure, checkedS / replayS, atMost(1.5));
  });

  const jobsFigure = 'corpus replay wall time, --jobs 1 vs --jobs 2';
  await attempt([[jobsFigure, null]], async () => {
    const dir = join(root, 'test/conformance/corpus');
    const corpus = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
    const load = loadavg()[0] ?? 0;
    const t = await replayJobs(root, corpus, JOBS_RUNS);
    say(
      `corpus replay by the command, wall (median of ${JOBS_RUNS}): --jobs 1 ${t.one.toFixed(2)} s, --jobs 2 ${t.two.toFixed(2)} s; ` +
        `two --jobs 1 processes on halves at once ${t.halves.toFixed(2)} s (load average ${load.toFixed(1)} on ${cpus().length} cores)`,
    );
    record(jobsFigure, t.one / t.two, null, `${ratio(t.one / t.two, null)} (halves in two processes: ${ratio(t.one / t.halves, null)})`);
  });

  churnFigures();

  const churnFigure = 'churn replay speed vs JSON.parse (10k live)';
  await attempt([[churnFigure, atLeast(0.3)]], async () => {
    const file = join(tmp, 'churn-10k.jsonl');
    writeChurnTrace(file, { live: 10000, churn: CHURN, device: true });
    const parsed = median([0, 1, 2].map(() => parseOnly([file])));
    let ok = 0;
    let events = 0;
    const replayed = await cpuSeconds(async () => {
      ({ ok, events } = (await replayFiles([file], { ownChoices: false })).totals);
    });
    if (ok !== events) throw new Error(`${events - ok} of ${events} events did not replay ok`);
    say(`churn trace, 10k live, ${events} events: replay ${replayed.toFixed(2)} CPU-s, read + split + JSON.parse ${parsed.toFixed(3)} CPU-s`);
    record(churnFigure, parsed / replayed, atLeast(0.3));
  });

  const unmapAllFigure = 'unmap-all per area, 16k vs 1k areas';
  await attempt([[unmapAllFigure, atMost(1.5)]], () => {
    const c = smallAndLarge((live) => unmapAllPerArea(live, 5, deadline()), 1000, 16000);
    say(`unmap-all, CPU per area unmapped: 1k areas ${us(c.small)}, 16k areas ${us(c.large)}`);
    record(unmapAllFigure, c.large / c.small, atMost(1.5));
  });

  const autoFigure = 'automatic-IOVA map per event, 50k vs 1k areas';
  await attempt([[autoFigure, atMost(1.5)]], () => {
    const c = smallAndLarge((live) => autoIovaPerMap(live, 1000, deadline()), 1000, 50000);
    say(`automatic-IOVA map placed past every area, CPU per map: 1k areas ${us(c.small)}, 50k areas ${us(c.large)}`);
    record(autoFigure, c.large / c.small, atMost(1.5));
  });

  const extentsFigure = 'extent workload, 1 TiB vs 1 GiB mapping';
  await attempt([[extentsFigure, atMost(1.5)]], () => {
    const runs = new Map<number, number>();
    const c = smallAndLarge((bytes) => {
      const w = extentWorkload(bytes, EXTENT_RUNS);
      runs.set(bytes, w.runs);
      return w.us;
    }, GIB, TIB);
    say(
      `MMAP, pin, FORK, write TOUCH in both, CHECK_REFS in both, unpin, CHECK_REFS, CPU per workload: 1 GiB ${us(c.small)}, 1 TiB ${us(c.large)} (page runs kept: ${runs.get(GIB)}, ${runs.get(TIB)})`,
    );
    record(extentsFigure, c.large / c.small, atMost(1.5));
  });

  const reachFigure = 'inspect: reach a random event of 1M after the first pass vs replaying K events in it';
  const checkpointFigure = 'inspect: checkpoints of 1M events, heap';
  await attempt([[reachFigure, atMost(1)], [checkpointFigure, null]], async () => {
    const c = await inspectCosts(join(tmp, 'churn-1m.jsonl'), performance.now() + INSPECT_SECONDS * 1000);
    const perEventMs = (c.passSeconds * 1000) / c.events;
    const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    say(
      `inspect, ${c.events} events, a checkpoint every ${c.every}: first pass ${c.passSeconds.toFixed(1)} CPU-s; reaching a random event after it ${c.reachMedianMs.toFixed(1)} ms ` +
        `(median of 50, longest ${c.reachMaxMs.toFixed(1)} ms; replaying ${c.every} events in the pass: ${(perEventMs * c.every).toFixed(1)} ms)`,
    );
    say(`inspect checkpoints: ${c.checkpoints} kept, ${mb(c.checkpointBytes)} of heap (${(c.checkpointBytes / c.checkpoints / 1024).toFixed(1)} KiB each); the last state alone ${mb(c.stateBytes)}`);
    record(reachFigure, c.reachMedianMs / (perEventMs * c.every), atMost(1));
    record(checkpointFigure, c.checkpointBytes, null, `${mb(c.checkpointBytes)} for ${c.checkpoints} (last state ${mb(c.stateBytes)})`);
  });

  table();
}

/** Fixed-IOVA map and unmap per event at 1k, 10k and 100k live areas; a size that cannot be measured ends the series. */
function churnFigures(): void {
  const churn = new Map<number, ChurnCosts>();
  let missing = '';
  for (const live of [1000, 10000, 100000]) {
    const ten = churn.get(10000);
    if (live === 100000 && ten !== undefined && ten.seconds >= CHURN_10K_MAX_SECONDS) {
      missing = `skipped: 10k took ${ten.seconds.toFixed(1)} s (limit ${CHURN_10K_MAX_SECONDS} s)`;
    } else {
      try {
        if (live === 1000) churnCosts(live, CHURN, deadline()); // warm-up
        const c = churnCosts(live, CHURN, deadline());
        churn.set(live, c);
        say(`churn at ${k(live)} live areas, ${CHURN} unmap + map pairs: CPU per map ${us(c.mapUs)}, per unmap ${us(c.unmapUs)} (${c.seconds.toFixed(1)} s wall with the fill)`);
        continue;
      } catch (e: unknown) {
        missing = `${e instanceof TooSlow ? 'skipped' : 'failed'}: ${k(live)}: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    say(`churn at ${k(live)} live areas: ${missing}`);
    break;
  }
  const first = churn.get(1000);
  if (first !== undefined && churn.size > 1) {
    // As in smallAndLarge: the 1k figure is the better of one run before the larger sizes and one after.
    const again = churnCosts(1000, CHURN, deadline());
    say(`churn at 1k live areas, again: CPU per map ${us(again.mapUs)}, per unmap ${us(again.unmapUs)}`);
    churn.set(1000, { mapUs: Math.min(first.mapUs, again.mapUs), unmapUs: Math.min(first.unmapUs, again.unmapUs), seconds: first.seconds });
  }
  for (const op of ['map', 'unmap'] as const) {
    const cost = (live: number): number | undefined => {
      const c = churn.get(live);
      return c === undefined ? undefined : op === 'map' ? c.mapUs : c.unmapUs;
    };
    const base = cost(1000);
    for (const live of [10000, 100000]) {
      const figure = `fixed-IOVA ${op} per event, ${k(live)} vs 1k live areas`;
      const target = live === 100000 ? atMost(1.5) : null;
      const at = cost(live);
      if (base !== undefined && at !== undefined) record(figure, at / base, target);
      else rows.push({ figure, measured: missing, target, met: null });
    }
  }
}

function table(): void {
  const target = (t: Target | null): string => (t === null ? '' : `${t.at === 'least' ? '≥' : '≤'} ${t.bound}${t.unit}`);
  const met = (r: Row): string => (r.target === null ? '' : r.met === null ? '-' : r.met ? 'yes' : 'NO');
  const cells = rows.map((r) => [r.figure, r.measured, target(r.target), met(r)]);
  const header = ['figure', 'measured', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const format = (c: readonly string[]): string => c.map((s, i) => s.padEnd(widths[i] as number)).join('  ').trimEnd();
  say('');
  say(format(header));
  say(format(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) say(format(c));
}

const tmp = mkdtempSync(join(tmpdir(), 'iommufd-model-bench-'));
try {
  await main(packageRoot(), tmp);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
