/**
 * `fuzz --kernel`: the runs follow that release, and a counterexample's trace says so in its
 * header, so that replaying it reproduces the run without `--kernel`.
 */
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { FuzzSession } from '../../src/fuzz/session.ts';
import { NEWEST } from '../../src/kernel/releases.ts';

describe('fuzz --kernel', () => {
  it('runs the session as the release and writes it as env.kernel', () => {
    const session = new FuzzSession(false, new Set(), '6.6');
    expect(session.snapshot.config.kernel.release).toBe('6.6');
    expect(JSON.parse(session.lines[0] ?? '{}').env.kernel).toBe('6.6');
    expect(new FuzzSession(false, new Set()).snapshot.config.kernel.release).toBe(NEWEST);
  });

  it("a counterexample found under a release carries it in its trace's header", () => {
    const found = fuzz({ seed: 3, runs: 200, maxSteps: 60, bugs: new Set(['double-charge']), kernel: '6.6', faultInjection: false }).counterexample;
    expect(found?.message).toMatch(/accounting-sums/);
    expect(JSON.parse(found?.trace.split('\n')[0] ?? '{}').env.kernel).toBe('6.6');
  });
});
