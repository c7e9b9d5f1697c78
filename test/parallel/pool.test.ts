/**
 * The units of a job on worker threads (the built dist/src/worker.js, as the command uses it):
 * results in the order of the units whichever thread finished first, ending where a result ends
 * the job; and no thread at all when one would do. Needs the build (`npm run build`).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FuzzJob, ReplayJob } from '../../src/parallel/job.ts';
import { runUnits } from '../../src/parallel/pool.ts';
import { bugSet } from '../../src/model/mutants.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const WORKER = pathToFileURL(join(ROOT, 'dist/src/worker.js'));
const NO_WORKER = pathToFileURL(join(ROOT, 'no-such-worker.js'));
const CORPUS = join(ROOT, 'test/conformance/corpus');

/** A long trace first, short ones after: the threads finish out of order. */
const REPLAY: ReplayJob = {
  kind: 'replay',
  files: ['iommufd_ioas.no_domain.ioas_iova_alloc', 'iommufd.default.map_cmd', 'iommufd_ioas.no_domain.ioas_destroy', 'iommufd.default.unmap_cmd'].map((t) =>
    join(CORPUS, `${t}.jsonl`),
  ),
  options: { ownChoices: false },
};

describe('runUnits', () => {
  it('starts no thread for one unit, nor at --jobs 1', async () => {
    expect(await runUnits(REPLAY, [1], { jobs: 4, worker: NO_WORKER })).toMatchObject([{ file: REPLAY.files[1] }]);
    const inThread = await runUnits(REPLAY, [3, 1], { jobs: 1, worker: NO_WORKER });
    expect(inThread.map((t) => t.file)).toEqual([REPLAY.files[3], REPLAY.files[1]]);
  });

  it('a thread that cannot start fails the job', async () => {
    await expect(runUnits(REPLAY, [1, 2], { jobs: 2, worker: NO_WORKER })).rejects.toThrow(/no-such-worker/);
  });

  it('gives the results in the order of the units, as one thread does', async () => {
    const units = [0, 1, 2, 3];
    const alone = await runUnits(REPLAY, units, { jobs: 1, worker: WORKER });
    expect(await runUnits(REPLAY, units, { jobs: 2, worker: WORKER })).toEqual(alone);
  }, 60_000);

  it('ends at the first result that ends the job, made by whichever thread', async () => {
    const job: FuzzJob = { kind: 'fuzz', campaign: { seed: 1, maxSteps: 30, bugs: bugSet(['domain-added-twice']), shrink: false } };
    const ends = (o: { counterexample: unknown }) => o.counterexample !== null;
    const units = Array.from({ length: 40 }, (_, run) => run);
    let ticks = 0;
    const alone = await runUnits(job, units, { jobs: 1, worker: WORKER, ends });
    const threads = await runUnits(job, units, { jobs: 2, worker: WORKER, ends, onTick: () => ticks++ });
    expect(alone.at(-1)?.counterexample).not.toBeNull();
    expect(threads).toEqual(alone);
    expect(ticks).toBeGreaterThanOrEqual(alone.length);
  }, 60_000);
});
