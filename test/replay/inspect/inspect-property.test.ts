/**
 * Going to an event through checkpoints gives the state a replay of the trace cut after that
 * event ends in: over the conformance corpus, at random lines, reached first at the frontier
 * and then again from a checkpoint behind it, with checkpoints near and far apart.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIgnorable } from '../../../events/trace-line.ts';
import { replayFile } from '../../../replay/replay-file.ts';
import { worldToJson } from '../../../replay/snapshot.ts';
import { inspectAt } from '../../../replay/inspect/inspect-command.ts';
import { stateView } from '../../../replay/inspect/state-view.ts';
import { Timeline } from '../../../replay/inspect/timeline.ts';
import type { World } from '../../../src/model/world.ts';
import { conformanceTraces } from '../../conformance/corpus.ts';
import { propertySettings } from '../../fc-settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-inspect-'));
const CORPUS = conformanceTraces();

/** The lines of each event (the header's first), counting from 1. */
function eventLines(text: string): number[] {
  const lines = text.split('\n');
  const out: number[] = [];
  lines.forEach((l, i) => {
    if (!isIgnorable(l)) out.push(i + 1);
  });
  return out;
}

/** The state a replay of `file` cut after line `line` ends in. */
async function truncatedReplay(text: string, line: number, ownChoices: boolean): Promise<World> {
  const cut = join(dir, `cut-${line}.jsonl`);
  writeFileSync(cut, `${text.split('\n').slice(0, line).join('\n')}\n`);
  let last: World | null = null;
  const report = await replayFile(cut, { ownChoices }, { start: (_h, w) => (last = w), event: (_e, _b, after) => (last = after) });
  expect(report.error).toBeUndefined();
  return last as unknown as World;
}

describe('inspect --at N', () => {
  it('equals the end state of a replay of the trace truncated after line N, reached at the frontier and from a checkpoint', async () => {
    const texts = new Map<string, string>();
    const textOf = (f: string): string => {
      let t = texts.get(f);
      if (t === undefined) texts.set(f, (t = readFileSync(f, 'utf8')));
      return t;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CORPUS),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(1, 2, 3, 7, 7, 50, 1000),
        fc.boolean(),
        async (file, i, j, every, ownChoices) => {
          const text = textOf(file);
          const lines = eventLines(text);
          const late = lines[Math.max(i, j) % lines.length] as number;
          const early = lines[Math.min(i, j) % lines.length] as number;
          const [lo, hi] = early <= late ? [early, late] : [late, early];
          const timeline = await Timeline.open(file, { ownChoices, checkpointEvery: every });
          try {
            for (const line of [hi, lo]) {
              const p = await timeline.at(await timeline.ordinalOfLine(line));
              expect(p.line).toBe(line);
              const expected = await truncatedReplay(text, line, ownChoices);
              expect(worldToJson(p.world)).toEqual(worldToJson(expected));
            }
          } finally {
            await timeline.close();
          }
          const doc = await inspectAt(file, { line: lo }, { ownChoices, checkpointEvery: every });
          expect(JSON.parse(JSON.stringify(doc))).toMatchObject({ at: { line: lo }, state: JSON.parse(JSON.stringify(stateView(await truncatedReplay(text, lo, ownChoices)))) });
        },
      ),
      propertySettings(40),
    );
  }, 300_000);
});
