/**
 * A fuzz campaign's report: the JSON `fuzz --json` prints (and `merge` gives for shards merged),
 * and the lines the command prints from it. It names the campaign (seed and options), so that a
 * report says what reruns it and a merge can tell the shards of one campaign from another's.
 */
import type { Shard } from '../parallel/shard.ts';
import { showShard } from '../parallel/shard.ts';
import type { Shrinking, Tally } from './tally.ts';

/** The options that make the campaign's runs, as the command line gave them. */
export interface CampaignJson {
  /** Runs 0 to `runs` - 1; absent with `run`. */
  readonly runs?: number;
  /** `--run`: only this run. */
  readonly run?: number;
  /** `--path`, with `run`. */
  readonly path?: string;
  readonly maxSteps: number;
  /** `null`: every op. */
  readonly ops: readonly string[] | null;
  readonly faults: boolean;
  readonly bugs: readonly string[];
  /** `--kernel`: the release the model followed (absent: the newest). */
  readonly kernel?: string;
}

export interface ReportedCounterexample extends Shrinking {
  readonly run: number;
  readonly path: string;
  readonly message: string;
  readonly shrunkSteps: number;
  /** The trace written. */
  readonly file: string;
}

export interface FuzzReport {
  readonly command: 'fuzz';
  readonly seed: number;
  readonly options: CampaignJson;
  readonly shard: Shard;
  /** Runs and steps made, shrinking runs included. */
  readonly runs: number;
  readonly steps: number;
  readonly counterexample: ReportedCounterexample | null;
}

export function fuzzReport(seed: number, options: CampaignJson, shard: Shard, result: Tally<ReportedCounterexample>): FuzzReport {
  return { command: 'fuzz', seed, options, shard, runs: result.runs, steps: result.steps, counterexample: result.counterexample };
}

/** What the command prints as it starts. */
export function fuzzBanner(seed: number, o: CampaignJson, shard: Shard): string {
  const runs = o.run === undefined ? `${o.runs} runs` : `run ${o.run}`;
  const ops = o.ops === null ? '' : `, ops ${o.ops.join(',')}`;
  const part = shard.count === 1 ? '' : `, shard ${showShard(shard)}`;
  const kernel = o.kernel === undefined ? '' : `, kernel ${o.kernel}`;
  return `fuzz: seed ${seed}, ${runs} of up to ${o.maxSteps} steps${ops}${kernel}${part}`;
}

/** What the command prints once the runs are made; `seconds`, the time they took, when known. */
export function fuzzSummary(r: FuzzReport, seconds: number | null): string {
  const time = seconds === null ? '' : ` in ${seconds.toFixed(1)} s (${Math.round(r.steps / seconds)} steps/s)`;
  const lines = [`fuzz: ${r.runs} runs, ${r.steps} steps${time}`];
  const c = r.counterexample;
  if (c === null) return [...lines, 'fuzz: no invariant violated'].join('\n');
  const o = r.options;
  const bugs = o.bugs.length === 0 ? '' : ` --bugs ${o.bugs.join(',')}`;
  const rerun = [
    `--seed ${r.seed} --run ${c.run} --path ${c.path} --max-steps ${o.maxSteps}`,
    o.ops === null ? '' : ` --ops ${o.ops.join(',')}`,
    o.faults ? '' : ' --no-faults',
    bugs,
    o.kernel === undefined ? '' : ` --kernel ${o.kernel}`,
  ].join('');
  return [
    ...lines,
    `fuzz: run ${c.run}: ${c.message}`,
    `fuzz: shrunk to ${c.shrunkSteps} commands; rerun it alone with: iommufd-model fuzz ${rerun}`,
    `fuzz: wrote ${c.file}; replay it with: iommufd-model replay --invariants${bugs} ${c.file}`,
  ].join('\n');
}
