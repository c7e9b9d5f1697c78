/**
 * The planted type1 bugs (spec-history §C.1: unmaps that cut or overreach a mapping, the
 * VADDR unmap's rollback, the charge of a VADDR update from another mm, dma_entry_limit's
 * entries): the fuzzer finds each within a fixed seed and budget and shrinks it to a short
 * trace that `replay --invariants --bugs NAME` reproduces, and that the faithful model replays
 * without a violation.
 */
import { describePlantedBugs } from './planted-bugs.ts';

describePlantedBugs({
  title: 'planted type1 bugs',
  prefix: 'type1-',
  broken: {
    'type1-v1-unmap-below-iova': /^type1-unmap-range$/,
    'type1-v2-unmap-misses-tail': /^type1-unmap-range$/,
    'type1-v2-unmap-split-keeps-charge': /^type1-unmap-range$/,
    'type1-unmap-keeps-dma-entry': /^type1-dma-avail$/,
    'type1-vaddr-rollback-keeps-count': /^type1-vaddr-invalid-count$/,
    'type1-vaddr-update-double-charge': /^accounting-sums$/,
    'type1-vaddr-update-charge-not-moved': /^type1-charged-sum$/,
  },
  // Short: the prologue, a container set up (a sequence the fuzzer generates whole), a few more.
  maxShrunkSteps: 20,
});
