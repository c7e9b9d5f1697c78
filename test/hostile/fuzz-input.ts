/**
 * `npm run fuzz:input`: a long campaign of hostile inputs through the built command.
 *
 *   npm run fuzz:input -- [--seed N] [--count N] [--first N] [--out DIR] [--batch N] [--seconds-per-file S]
 *
 * Prints the seed first, then a summary: files and lines, files by exit status and by family,
 * the slowest batch and the slowest file. Each failing input is kept in `--out` with a note of
 * what failed and how to make it again; the exit status is 1 when there is any.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBases } from './bases.ts';
import { runCampaign } from './campaign.ts';
import type { Finding } from './cli-run.ts';
import { describeFinding } from './describe.ts';

function integer(name: string, value: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) > max) {
    process.stderr.write(`fuzz:input: --${name} must be an integer from 0 to ${max}\n`);
    process.exit(2);
  }
  return Number(value);
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string' },
    first: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string' },
    'seconds-per-file': { type: 'string' },
  },
});

const seed = integer('seed', values.seed, Date.now() % 2 ** 31, 2 ** 32 - 1);
const count = integer('count', values.count, 20_000);
const first = integer('first', values.first, 0);
const batchSize = Math.max(1, integer('batch', values.batch, 100));
const secondsPerFile = integer('seconds-per-file', values['seconds-per-file'], 5);
const out = resolve(values.out ?? join(tmpdir(), 'iommufd-model-hostile-inputs'));
const root = resolve(import.meta.dirname, '../..');

process.stdout.write(`fuzz:input: seed ${seed}, files ${first} to ${first + count - 1}, failing inputs kept in ${out}\n`);
const work = mkdtempSync(join(tmpdir(), 'iommufd-model-hostile-'));
const findings: Finding[] = [];

/** Keeps a failing input and a note beside it; the first finding of a file keeps its content. */
function keep(finding: Finding, path: string | null): void {
  findings.push(finding);
  mkdirSync(out, { recursive: true });
  const stem = finding.file === null ? `${seed}-run-${findings.length}` : `${seed}-${finding.file.index}`;
  writeFileSync(join(out, `${stem}.txt`), `${describeFinding(seed, finding)}\n`, { flag: 'a' });
  if (path !== null && finding.file !== null && typeof finding.file.content !== 'string' && statSync(path, { throwIfNoEntry: false })?.isFile() === true) {
    copyFileSync(path, join(out, `${stem}.jsonl`));
  }
}

try {
  const { stats } = runCampaign(loadBases(root), {
    seed,
    first,
    count,
    batchSize,
    dir: work,
    secondsPerFile,
    timeSlowest: 3,
    onFinding: keep,
    onBatch: (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${done}/${count} files, ${findings.length} findings`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  const { byStatus, slowestBatch, slowestFile } = stats;
  const mb = (stats.bytes / 2 ** 20).toFixed(1);
  const lines = [
    `files: ${stats.files} (${stats.lines} lines, ${mb} MiB) in ${stats.seconds.toFixed(0)} s: ${stats.batches} runs of up to ${batchSize} files, files run alone: ${stats.singleRuns}`,
    `by exit status: 0: ${byStatus['0']}, 1: ${byStatus['1']}, 2: ${byStatus['2']}${byStatus.unknown > 0 ? `, unknown: ${byStatus.unknown}` : ''}`,
    `by family: ${Object.entries(stats.byFamily).map(([family, n]) => `${family} ${n}`).join(', ')}`,
    `slowest run: ${slowestBatch.seconds.toFixed(2)} s for ${slowestBatch.files} files`,
    slowestFile === null ? 'slowest file: none timed' : `slowest file: ${slowestFile.index} (${slowestFile.what}), ${slowestFile.seconds.toFixed(2)} s alone`,
    findings.length === 0 ? 'findings: none' : `findings: ${findings.length}, kept in ${out}`,
    ...findings.map((f) => describeFinding(seed, f)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exitCode = findings.length === 0 ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
