/**
 * The kernel's own selftest, translated to traces, is the external oracle. A trace the model
 * fully covers must replay with no divergence, adopting recorded choices or making its own;
 * every other trace must replay without crashing, and its counts are pinned in a committed
 * snapshot so that any change in coverage shows in review.
 */
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile, type TraceReport } from '../../replay/replay-file.ts';
import { conformanceTraces } from './corpus.ts';
import { SKIPPED } from './skipped.ts';

const traces = conformanceTraces();

function brief(r: TraceReport) {
  return { events: r.events, ok: r.ok, diverged: r.diverged, ran: r.ran, unsupported: r.unsupported, unsure_diverged: r.unsure_diverged };
}

function firstDivergences(r: TraceReport): string {
  return r.divergences
    .slice(0, 5)
    .map((d) => `line ${d.line} ${d.op}: expected ${JSON.stringify(d.expected)} actual ${JSON.stringify(d.actual)}${d.note ? ` (${d.note})` : ''}`)
    .join('\n');
}

describe('conformance corpus', () => {
  it('is present: 106 traces', () => {
    expect(traces.length).toBe(106);
  });

  const counts: Record<string, { adopted: ReturnType<typeof brief>; own: ReturnType<typeof brief> }> = {};

  for (const file of traces) {
    const name = basename(file);
    const skip = SKIPPED.get(name);
    it.skipIf(skip !== undefined)(`${name} replays${skip ? ` (skipped: ${skip.reason})` : ''}`, async () => {
      const adopted = await replayFile(file, { ownChoices: false });
      const own = await replayFile(file, { ownChoices: true });
      expect(adopted.error).toBeUndefined();
      expect(own.error).toBeUndefined();
      counts[name] = { adopted: brief(adopted), own: brief(own) };
      if (adopted.unsupported === 0) {
        expect(adopted.diverged, firstDivergences(adopted)).toBe(0);
        expect(own.diverged, firstDivergences(own)).toBe(0);
      }
    });
  }

  it('per-trace counts match the committed snapshot', async () => {
    await expect(`${JSON.stringify(counts, null, 1)}\n`).toMatchFileSnapshot('./conformance-counts.json');
  });
});
