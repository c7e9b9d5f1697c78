/**
 * The one test every family of planted bugs gets: the fuzzer finds each bug within a fixed seed
 * and budget, shrinks it to a short trace that breaks the invariant the bug is known to break,
 * `replay --invariants --bugs NAME` reproduces it, and the faithful model replays it clean.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { BUG_NAMES } from '../../src/model/mutants.ts';

export interface PlantedBugs {
  readonly title: string;
  /** The name prefix shared by the family's bug switches. */
  readonly prefix: string;
  /** What each bug breaks first, once shrunk. */
  readonly broken: Readonly<Record<string, RegExp>>;
  readonly maxShrunkSteps: number;
}

export function describePlantedBugs({ title, prefix, broken, maxShrunkSteps }: PlantedBugs): void {
  const dir = mkdtempSync(join(tmpdir(), `iommufd-model-${prefix}`));
  const names = BUG_NAMES.filter((name) => name.startsWith(prefix));
  describe(title, () => {
    it('are the ones listed here', () => {
      expect(names).toEqual(Object.keys(broken));
    });

    it.each(names)('%s: found, shrunk, and reproduced by replay --invariants with it on', async (name) => {
      const bugs = new Set([name]);
      const found = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, bugs }).counterexample;
      expect(found).not.toBeNull();
      if (found === null) return;
      const invariant = /invariant (\S+) violated/.exec(found.message)?.[1];
      expect(invariant).toMatch(broken[name] as RegExp);
      expect(found.shrunkSteps).toBeLessThanOrEqual(maxShrunkSteps);
      const file = join(dir, `${name}.jsonl`);
      writeFileSync(file, found.trace);
      const replayed = await replayFile(file, { ownChoices: false, invariants: true, bugs });
      expect(replayed.error).toBeUndefined();
      expect(replayed.diverged).toBe(0);
      expect(replayed.violations?.map((v) => v.invariant)).toContain(invariant);
      const faithful = await replayFile(file, { ownChoices: false, invariants: true });
      expect(faithful.violations).toEqual([]);
    }, 120_000);
  });
}
