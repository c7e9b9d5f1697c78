/**
 * A campaign: `count` hostile files from `first` on, made from `seed`, run a batch at a time
 * through the built command. Batches take the modes in turn (`replay` with and without
 * `--invariants` and `--own-choices`, `audit`), every third with worker threads; every fourth
 * is run again without `--json`; in every fifth, a file that failed and one that did not are run
 * alone. A batch that takes longer than `secondsPerFile` beyond what its files should, or whose
 * run has a problem of its own, is run again file by file: a file that alone takes longer than
 * `secondsPerFile`, or has the problem, is a finding.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bases } from './bases.ts';
import { type FileOutcome, type Finding, MODES, type Mode, type Written, runAlone, runFiles, runText } from './cli-run.ts';
import { generate } from './generator.ts';
import { type HostileFile, lineCount } from './hostile-file.ts';

export interface CampaignOptions {
  readonly seed: number;
  readonly first: number;
  readonly count: number;
  readonly batchSize: number;
  /** Where the batches are written; each is removed once run. */
  readonly dir: string;
  /** The most a file may take, alone. */
  readonly secondsPerFile: number;
  /** How many of the slowest batches have their files timed one by one afterwards, to name the slowest file. */
  readonly timeSlowest?: number;
  /** Called with each finding's file while it is still on disk. */
  readonly onFinding?: (finding: Finding, path: string | null) => void;
  readonly onBatch?: (done: number) => void;
}

export interface CampaignStats {
  files: number;
  lines: number;
  bytes: number;
  /** Files by the status their report gave them; `unknown` when a run's report could not be read. */
  readonly byStatus: Record<'0' | '1' | '2' | 'unknown', number>;
  readonly byFamily: Record<string, number>;
  batches: number;
  singleRuns: number;
  seconds: number;
  slowestBatch: { seconds: number; files: number };
  slowestFile: { index: number; name: string; what: string; seconds: number } | null;
}

/** The files of `first` to `first + size - 1`, split where the line limit they are read with changes. */
function batchesOf(bases: Bases, seed: number, first: number, size: number): HostileFile[][] {
  const chunk = Array.from({ length: size }, (_, i) => generate(seed, first + i, bases));
  return [...new Set(chunk.map((f) => f.maxLineBytes))].map((limit) => chunk.filter((f) => f.maxLineBytes === limit));
}

function write(dir: string, file: HostileFile): Written {
  const path = join(dir, file.name);
  if (file.content === 'directory') mkdirSync(path);
  else if (file.content !== 'missing') writeFileSync(path, file.content);
  return { file, path };
}

/**
 * Seconds a file may take in a batch (some ten times what the files here take, on a machine
 * that runs nothing else) before the batch is timed file by file: past this and
 * `secondsPerFile`, some file may be slow.
 */
const IN_BATCH = 0.25;

const count = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

export function runCampaign(bases: Bases, options: CampaignOptions): { findings: Finding[]; stats: CampaignStats } {
  const stats: CampaignStats = {
    files: 0,
    lines: 0,
    bytes: 0,
    byStatus: { '0': 0, '1': 0, '2': 0, unknown: 0 },
    byFamily: {},
    batches: 0,
    singleRuns: 0,
    seconds: 0,
    slowestBatch: { seconds: 0, files: 0 },
    slowestFile: null,
  };
  const findings: Finding[] = [];
  const runs: { seconds: number; indexes: number[] }[] = [];
  const started = performance.now();
  const end = options.first + options.count;
  for (let at = options.first; at < end; at += options.batchSize) {
    for (const batch of batchesOf(bases, options.seed, at, Math.min(options.batchSize, end - at))) {
      const run = runBatch(batch, stats.batches, options, stats);
      findings.push(...run.findings);
      stats.batches++;
      if (run.seconds > stats.slowestBatch.seconds) stats.slowestBatch = { seconds: run.seconds, files: batch.length };
      runs.push({ seconds: run.seconds, indexes: batch.map((f) => f.index) });
      options.onBatch?.(stats.files);
    }
  }
  stats.seconds = (performance.now() - started) / 1000;
  const slowest = runs.sort((a, b) => b.seconds - a.seconds).slice(0, options.timeSlowest ?? 0);
  stats.slowestFile = slowestFile(bases, slowest.flatMap((s) => s.indexes), options);
  return { findings, stats };
}

/** Runs one batch in its turn's mode, with the checks its turn adds; counts its files in `stats`. */
function runBatch(batch: readonly HostileFile[], b: number, options: CampaignOptions, stats: CampaignStats): { findings: Finding[]; seconds: number } {
  const { secondsPerFile } = options;
  const dir = join(options.dir, `batch-${b}`);
  mkdirSync(dir, { recursive: true });
  const written = batch.map((f) => write(dir, f));
  const mode = MODES[b % MODES.length] as Mode;
  const runOptions = { jobs: b % 3 === 2 ? 2 : 1, timeoutSeconds: Math.max(120, secondsPerFile * batch.length) };
  const found: Finding[] = [];
  const run = runFiles(mode, written, runOptions);
  found.push(...run.findings);
  if (b % 4 === 3 && run.outcomes !== null) found.push(...runText(mode, written, runOptions, run));
  if (b % 5 === 4 && run.outcomes !== null) {
    const outcomes = run.outcomes;
    for (const failing of [true, false]) {
      const i = outcomes.findIndex((o) => (o.status === 2) === failing);
      if (i < 0) continue;
      found.push(...runAlone(mode, written[i] as Written, { ...runOptions, jobs: 1 }, outcomes[i] as FileOutcome).findings);
      stats.singleRuns++;
    }
  }
  // A slow batch may only be a loaded machine, and a run's own problem may be any file's: each
  // file is run alone before one is blamed.
  const slow = run.seconds > secondsPerFile + batch.length * IN_BATCH;
  if (slow || run.findings.some((f) => f.file === null)) {
    for (const [i, w] of written.entries()) {
      const outcome = run.outcomes?.[i];
      const alone = outcome === undefined ? runFiles(mode, [w], runOptions) : runAlone(mode, w, runOptions, outcome);
      stats.singleRuns++;
      if (alone.seconds > secondsPerFile) found.push({ file: w.file, mode: mode.name, problem: `took ${alone.seconds.toFixed(1)} s alone` });
      found.push(...alone.findings.map((f) => ({ ...f, file: w.file })));
    }
  }
  const range = `files ${(batch[0] as HostileFile).index} to ${(batch[batch.length - 1] as HostileFile).index}`;
  const findings = found.map((f) => (f.file === null ? { ...f, problem: `in the run of ${range}: ${f.problem}` } : f));
  for (const f of findings) options.onFinding?.(f, f.file === null ? null : join(dir, f.file.name));
  batch.forEach((f, i) => {
    stats.files++;
    stats.lines += lineCount(f.content);
    stats.bytes += typeof f.content === 'string' ? 0 : f.content.length;
    count(stats.byStatus, String(run.outcomes?.[i]?.status ?? 'unknown'));
    count(stats.byFamily, f.family);
  });
  rmSync(dir, { recursive: true, force: true });
  return { findings, seconds: run.seconds };
}

/** The slowest of `indexes` (the files of the slowest batches), each timed alone. */
function slowestFile(bases: Bases, indexes: readonly number[], options: CampaignOptions): CampaignStats['slowestFile'] {
  let found: CampaignStats['slowestFile'] = null;
  const dir = join(options.dir, 'timing');
  mkdirSync(dir, { recursive: true });
  for (const index of indexes) {
    const file = generate(options.seed, index, bases);
    const run = runFiles(MODES[0] as Mode, [write(dir, file)], { jobs: 1, timeoutSeconds: 600 });
    if (found === null || run.seconds > found.seconds) found = { index, name: file.name, what: file.what, seconds: run.seconds };
    rmSync(join(dir, file.name), { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  return found;
}
