/**
 * The fuzzer itself: the faithful model survives it, planted bugs are found and shrunk, and
 * the counterexample it writes is a trace that `replay --invariants` reproduces with the same
 * bugs on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { bugSet } from '../../src/model/mutants.ts';

const seed = process.env['FC_SEED'] === undefined ? Date.now() % 2 ** 31 : Number(process.env['FC_SEED']);
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-fuzz-'));

describe('iommufd-model fuzz', () => {
  it(`finds no violation in the model (seed ${seed})`, () => {
    process.stdout.write(`fuzz seed=${seed}\n`);
    const r = fuzz({ seed, runs: 200, maxSteps: 100 });
    expect(r.counterexample?.message ?? null, r.counterexample?.trace).toBeNull();
    expect(r.steps).toBeGreaterThan(200 * 10);
  });

  it.each(['double-charge', 'overlap-off-by-one', 'map-keeps-area-on-pin-failure', 'double-charge,overlap-off-by-one'])(
    'shrinks planted bugs (%s) to a trace that replay --invariants reproduces with them on',
    async (names) => {
      const bugs = bugSet(names.split(','));
      const r = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, bugs });
      const found = r.counterexample;
      expect(found).not.toBeNull();
      if (found === null) return;
      expect(found.bugs).toEqual([...bugs]);
      const invariant = /invariant (\S+) violated/.exec(found.message)?.[1];
      expect(invariant).toBeDefined();
      const file = join(dir, `${names}.jsonl`);
      writeFileSync(file, found.trace);
      const replayed = await replayFile(file, { ownChoices: false, invariants: true, bugs: new Set(found.bugs) });
      expect(replayed.error).toBeUndefined();
      expect(replayed.violations?.map((v) => v.invariant)).toContain(invariant);
      // The shrunk run is short: the prologue, the few commands that matter.
      expect(found.shrunkSteps).toBeLessThanOrEqual(12);
      const fixed = await replayFile(file, { ownChoices: false, invariants: true });
      expect(fixed.violations).toEqual([]);
    },
    120_000,
  );
});
