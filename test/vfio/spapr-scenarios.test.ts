/**
 * SPAPR TCE scenarios written from the kernel code (test/vfio/spapr-scenarios): v1 enable, v2
 * windows, pre-registration, the unregister quirk. Each replays clean, adopting the recorded
 * choices and with its own, with every invariant checked after every event.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';

const DIR = resolve(import.meta.dirname, 'spapr-scenarios');
const TRACES = readdirSync(DIR).filter((f) => f.endsWith('.jsonl')).sort();

describe('SPAPR TCE scenarios', () => {
  it('are v1 enable, v2 windows, pre-registration and the unregister quirk', () => {
    expect(TRACES).toEqual(['spapr-prereg.jsonl', 'spapr-unregister-quirk.jsonl', 'spapr-v1-enable.jsonl', 'spapr-v2-windows.jsonl']);
  });
  it.each(TRACES.flatMap((name) => [[name, false] as const, [name, true] as const]))('%s replays clean (own choices: %s)', async (name, ownChoices) => {
    const r = await replayFile(join(DIR, name), { ownChoices, invariants: true });
    expect(r.error).toBeUndefined();
    expect(r.divergences).toEqual([]);
    expect(r.unsupported).toBe(0);
    expect(r.ran).toBe(0);
    expect(r.violations).toEqual([]);
  });
});
