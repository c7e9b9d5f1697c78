/**
 * Legacy VFIO scenarios written from the kernel code (test/vfio/scenarios): QEMU's legacy
 * backend on native type1 v1 and v2 containers, on iommufd's compatibility container, two
 * containers charging the same memory twice, and dma_entry_limit. Each replays clean, adopting
 * the recorded choices and with its own, with every invariant checked after every event.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';

const DIR = resolve(import.meta.dirname, 'scenarios');
const TRACES = readdirSync(DIR).filter((f) => f.endsWith('.jsonl')).sort();

describe('legacy VFIO scenarios', () => {
  it('are the five of the issue', () => {
    expect(TRACES).toEqual(['compat-group.jsonl', 'dma-entry-limit.jsonl', 'double-charge.jsonl', 'native-v1.jsonl', 'native-v2.jsonl']);
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
