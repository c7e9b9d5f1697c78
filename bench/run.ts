/**
 * Benchmarks (not tests): fuzz throughput with every invariant checked every step, the time to
 * shrink a failing 1,000-step run, replay throughput, and XState's pure-reducer adapter against
 * its public `transition()`. Figures from one run on this machine; ratios are within that run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { transition } from 'xstate';
import { initialRecord, nextRecord } from '../machines/adapter.ts';
import { ioasMachine } from '../machines/ioas.machine.ts';
import { replayFiles } from '../replay/replay-file.ts';
import { fuzz } from '../src/fuzz/fuzz.ts';

const seconds = (t0: number): number => (performance.now() - t0) / 1000;
const line = (s: string): void => void process.stdout.write(`${s}\n`);

function fuzzThroughput(faultInjection: boolean): number {
  const t0 = performance.now();
  const r = fuzz({ seed: 1, runs: 300, maxSteps: 200, faultInjection });
  return r.steps / seconds(t0);
}

function shrinkTime(): { total: number; steps: number } {
  const t0 = performance.now();
  const r = fuzz({ seed: 3, runs: 50, maxSteps: 1000, bugs: new Set(['double-charge']) });
  return { total: seconds(t0), steps: r.counterexample?.shrunkSteps ?? -1 };
}

async function replayThroughput(invariants: boolean): Promise<number | null> {
  // From bench/ (run with tsx) or dist/bench/ (built): the vendored corpus.
  const dir = ['../test/conformance/corpus', '../../test/conformance/corpus']
    .map((p) => resolve(import.meta.dirname, p))
    .find((p) => existsSync(p));
  if (dir === undefined) return null;
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
  const t0 = performance.now();
  const r = await replayFiles(files, { ownChoices: false, invariants });
  return r.totals.events / seconds(t0);
}

function xstateRatio(): { adapter: number; publicTransition: number } {
  const n = 20000;
  let rec = initialRecord(ioasMachine);
  let t0 = performance.now();
  for (let i = 0; i < n; i++) rec = nextRecord(ioasMachine, rec, { type: 'AREAS_CHANGED', count: i % 3 });
  const adapter = (seconds(t0) * 1e6) / n;
  let snap = ioasMachine.resolveState({ value: 'empty', context: { users: 1 } });
  t0 = performance.now();
  for (let i = 0; i < n; i++) [snap] = transition(ioasMachine, snap, { type: 'AREAS_CHANGED', count: i % 3 });
  const publicTransition = (seconds(t0) * 1e6) / n;
  return { adapter, publicTransition };
}

line(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), one used, node ${process.version}`);
const withFaults = fuzzThroughput(true);
const plain = fuzzThroughput(false);
line(`fuzz, all invariants every step, fail_nth reruns: ${Math.round(withFaults)} steps/s`);
line(`fuzz, all invariants every step, no fail_nth:    ${Math.round(plain)} steps/s (fail_nth costs ${(plain / withFaults).toFixed(2)}x)`);
const shrink = shrinkTime();
line(`find and shrink a planted bug in runs of up to 1,000 steps: ${shrink.total.toFixed(2)} s, shrunk to ${shrink.steps} commands`);
await replayThroughput(false); // warm-up: the first pass pays for compiling the model
const replay = await replayThroughput(false);
const checked = await replayThroughput(true);
if (replay !== null && checked !== null) {
  line(`replay of the conformance corpus: ${Math.round(replay)} events/s; with --invariants ${Math.round(checked)} events/s (invariants cost ${(replay / checked).toFixed(2)}x)`);
}
const x = xstateRatio();
line(`xstate step: adapter ${x.adapter.toFixed(2)} µs, public transition() ${x.publicTransition.toFixed(2)} µs (${(x.publicTransition / x.adapter).toFixed(1)}x)`);
