/**
 * Hostile input through the built command, as trace-format.md promises to meet it ("Well-formed
 * lines", "Report"): a fixed seed's malformed and odd traces (nesting, keys given twice,
 * encodings, sizes, huge ranges, every place of every op with its edge values) run a batch at a
 * time through `replay`, `--invariants`, `--own-choices` and `audit`. Each file ends with exit
 * 0, 1 or 2 as its report says, one JSON object on stdout with its entry, its error alone on
 * stderr in one line naming it, no stack trace, and within seconds. `npm run fuzz:input` runs a
 * longer campaign of the same inputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../events/op-plan.ts';
import { loadBases } from './bases.ts';
import { runCampaign } from './campaign.ts';
import { describeFinding } from './describe.ts';
import { generate } from './generator.ts';
import { PLACES } from './places.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = 1;
const COUNT = 2000;
/** The most a file may take alone: generous, for a machine that runs other tests beside this one. */
const SECONDS_PER_FILE = 5;

const bases = loadBases(ROOT);

describe('hostile inputs', () => {
  it('are made again, byte for byte, from their seed and number alone', () => {
    for (const index of [0, 1, 7, 123, 1999]) {
      const [a, b] = [generate(SEED, index, bases), generate(SEED, index, bases)];
      expect(b).toEqual(a);
      expect(generate(SEED + 1, index, bases)).not.toEqual(a);
    }
  });

  it('reach every op of the format: each with a place of its own, or the event keys every op has', () => {
    const placed = new Set(PLACES.map((p) => p.line));
    const withoutArgs = [...PLANS].filter(([, plan]) => plan.inputs.size === 0 && plan.outputs.size === 0).map(([op]) => op);
    expect([...PLANS.keys()].filter((op) => !placed.has(op) && !withoutArgs.includes(op))).toEqual([]);
    expect(placed.has('*')).toBe(true);
    // Half the files try edge values: the suite puts one at every place.
    expect(COUNT / 2).toBeGreaterThanOrEqual(PLACES.length);
  });

  it(`${COUNT} files of seed ${SEED}: exit 0, 1 or 2 as the report says, one JSON object, one error line per bad file, no stack, seconds each`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-hostile-'));
    try {
      const { findings, stats } = runCampaign(bases, { seed: SEED, first: 0, count: COUNT, batchSize: 100, dir, secondsPerFile: SECONDS_PER_FILE });
      const perFile = stats.slowestBatch.seconds / stats.slowestBatch.files;
      console.log(
        `hostile inputs: seed ${SEED}, ${stats.files} files, ${stats.lines} lines, ${(stats.bytes / 2 ** 20).toFixed(1)} MiB; ` +
          `exit 0: ${stats.byStatus['0']}, 1: ${stats.byStatus['1']}, 2: ${stats.byStatus['2']}; ${stats.batches} runs, ` +
          `${stats.singleRuns} files alone, ${stats.seconds.toFixed(0)} s; slowest run ${perFile.toFixed(3)} s a file`,
      );
      expect(findings.map((f) => describeFinding(SEED, f))).toEqual([]);
      // The inputs reach every outcome, and every report was read.
      expect(stats.byStatus.unknown).toBe(0);
      for (const status of ['0', '1', '2'] as const) expect(stats.byStatus[status]).toBeGreaterThan(COUNT / 50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
