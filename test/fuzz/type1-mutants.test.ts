/**
 * The planted type1 bugs (spec-history §C.1: unmaps that cut or overreach a mapping, the
 * VADDR unmap's rollback, the charge of a VADDR update from another mm, dma_entry_limit's
 * entries): the fuzzer finds each within a fixed seed and budget and shrinks it to a short
 * trace that `replay --invariants --bugs NAME` reproduces, and that the faithful model replays
 * without a violation.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { BUG_NAMES } from '../../src/model/mutants.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-type1-'));
const TYPE1_BUGS = BUG_NAMES.filter((name) => name.startsWith('type1-'));

/** What each bug breaks first, once shrunk. */
const BROKEN: Readonly<Record<string, RegExp>> = {
  'type1-v1-unmap-below-iova': /^type1-unmap-range$/,
  'type1-v2-unmap-misses-tail': /^type1-unmap-range$/,
  'type1-v2-unmap-split-keeps-charge': /^type1-unmap-range$/,
  'type1-unmap-keeps-dma-entry': /^type1-dma-avail$/,
  'type1-vaddr-rollback-keeps-count': /^type1-vaddr-invalid-count$/,
  'type1-vaddr-update-double-charge': /^accounting-sums$/,
  'type1-vaddr-update-charge-not-moved': /^type1-charged-sum$/,
};

describe('planted type1 bugs', () => {
  it('are the ones listed here', () => {
    expect(TYPE1_BUGS).toEqual(Object.keys(BROKEN));
  });

  it.each(TYPE1_BUGS)('%s: found, shrunk, and reproduced by replay --invariants with it on', async (name) => {
    const bugs = new Set([name]);
    const found = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, bugs }).counterexample;
    expect(found).not.toBeNull();
    if (found === null) return;
    const invariant = /invariant (\S+) violated/.exec(found.message)?.[1];
    expect(invariant).toMatch(BROKEN[name] as RegExp);
    // Short: the prologue, a container set up (a sequence the fuzzer generates whole), a few more.
    expect(found.shrunkSteps).toBeLessThanOrEqual(20);
    const file = join(dir, `${name}.jsonl`);
    writeFileSync(file, found.trace);
    const replayed = await replayFile(file, { ownChoices: false, invariants: true, bugs });
    expect(replayed.error).toBeUndefined();
    expect(replayed.violations?.map((v) => v.invariant)).toContain(invariant);
    const faithful = await replayFile(file, { ownChoices: false, invariants: true });
    expect(faithful.violations).toEqual([]);
  }, 120_000);
});
