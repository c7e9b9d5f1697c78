/**
 * The planted SPAPR TCE bugs (spec-history §C.3, each undoing the commit that fixed it): ioctls
 * working on the caller's mm instead of the container's (bc82d122ae4a), and pre-registered
 * regions left to the mm on a container's release, or registered twice by one container
 * (4b6fad7097f8). The fuzzer finds each within a fixed seed and budget and shrinks it to a
 * short trace that `replay --invariants --bugs NAME` reproduces, and that the faithful model
 * replays without a violation.
 */
import { describePlantedBugs } from './planted-bugs.ts';

describePlantedBugs({
  title: 'planted SPAPR TCE bugs',
  prefix: 'spapr-',
  broken: {
    // The container's charges move to the child's mm with its binding, and its regions' holder with them.
    'spapr-current-mm': /^(accounting-sums|prereg-holders)$/,
    'spapr-release-keeps-prereg': /^prereg-holders$/,
    'spapr-register-twice': /^prereg-used$/,
  },
  // Short: a container or two set up, used and closed (sequences the fuzzer generates whole), a few more.
  maxShrunkSteps: 40,
});
