/**
 * The kernel's own selftest, translated to traces, is the external oracle. Every trace must
 * replay, adopting recorded choices and making its own, with no divergence (sure or unsure), no
 * unsupported event and no invariant violation. The skip list is the only exception. The
 * per-trace counts file is a coverage record checked after those assertions, so updating it
 * can never turn a divergence green.
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

function firstViolations(r: TraceReport): string {
  return (r.violations ?? [])
    .slice(0, 5)
    .map((v) => JSON.stringify(v))
    .join('\n');
}

function expectClean(r: TraceReport, mode: string): void {
  expect(r.error, `${mode}: read error`).toBeUndefined();
  expect(r.events, `${mode}: no event replayed`).toBeGreaterThan(0);
  expect(r.diverged, `${mode}: ${firstDivergences(r)}`).toBe(0);
  expect(r.unsure_diverged, `${mode}: ${firstDivergences(r)}`).toBe(0);
  expect(r.unsupported, `${mode}: unsupported events`).toBe(0);
  expect(r.violations, `${mode}: invariants were not checked`).toBeDefined();
  expect(r.violations?.length, `${mode}: ${firstViolations(r)}`).toBe(0);
}

describe('conformance corpus', () => {
  it('is present: 106 traces', () => {
    expect(traces.length).toBe(106);
  });

  it('skips only traces that exist, each with a reason and a source line', () => {
    const names = new Set(traces.map((t) => basename(t)));
    for (const [name, skip] of SKIPPED) {
      expect(names.has(name), name).toBe(true);
      expect(skip.reason.length, name).toBeGreaterThan(0);
      expect(skip.source.length, name).toBeGreaterThan(0);
    }
  });

  const counts: Record<string, { adopted: ReturnType<typeof brief>; own: ReturnType<typeof brief> }> = {};

  for (const file of traces) {
    const name = basename(file);
    const skip = SKIPPED.get(name);
    it.skipIf(skip !== undefined)(`${name} replays clean${skip ? ` (skipped: ${skip.reason})` : ''}`, async () => {
      const adopted = await replayFile(file, { ownChoices: false, invariants: true });
      const own = await replayFile(file, { ownChoices: true, invariants: true });
      expectClean(adopted, 'adopting recorded choices');
      expectClean(own, '--own-choices');
      counts[name] = { adopted: brief(adopted), own: brief(own) };
    });
  }

  it('per-trace counts match the committed coverage record', async () => {
    await expect(`${JSON.stringify(counts, null, 1)}\n`).toMatchFileSnapshot('./conformance-counts.json');
  });
});
