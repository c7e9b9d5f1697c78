/**
 * The planted SPAPR TCE bugs (spec-history §C.3, each undoing the commit that fixed it): ioctls
 * working on the caller's mm instead of the container's (bc82d122ae4a), and pre-registered
 * regions left to the mm on a container's release, or registered twice by one container
 * (4b6fad7097f8). The fuzzer finds each within a fixed seed and budget and shrinks it to a
 * short trace that `replay --invariants --bugs NAME` reproduces, and that the faithful model
 * replays without a violation.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { BUG_NAMES } from '../../src/model/mutants.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-spapr-'));
const SPAPR_BUGS = BUG_NAMES.filter((name) => name.startsWith('spapr-'));

/** What each bug breaks first, once shrunk. */
const BROKEN: Readonly<Record<string, RegExp>> = {
  // The container's charges move to the child's mm with its binding, and its regions' holder with them.
  'spapr-current-mm': /^(accounting-sums|prereg-holders)$/,
  'spapr-release-keeps-prereg': /^prereg-holders$/,
  'spapr-register-twice': /^prereg-used$/,
};

describe('planted SPAPR TCE bugs', () => {
  it('are the ones listed here', () => {
    expect(SPAPR_BUGS).toEqual(Object.keys(BROKEN));
  });

  it.each(SPAPR_BUGS)('%s: found, shrunk, and reproduced by replay --invariants with it on', async (name) => {
    const bugs = new Set([name]);
    const found = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, bugs }).counterexample;
    expect(found).not.toBeNull();
    if (found === null) return;
    const invariant = /invariant (\S+) violated/.exec(found.message)?.[1];
    expect(invariant).toMatch(BROKEN[name] as RegExp);
    // Short: a container or two set up, used and closed (sequences the fuzzer generates whole), a few more.
    expect(found.shrunkSteps).toBeLessThanOrEqual(40);
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
