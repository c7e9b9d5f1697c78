/**
 * Checkpoints: after the first pass, any event is reached by replaying at most K - 1 events
 * (stepping to the next one, by one); checkpoints share what the events between them left
 * alone; lines are found again in files with CRLF line ends, a byte order mark and comments.
 */
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { worldToJson } from '../../../replay/snapshot.ts';
import { Timeline } from '../../../replay/inspect/timeline.ts';
import type { World } from '../../../src/model/world.ts';
import { propertySettings } from '../../fc-settings.ts';
import { traceHeader } from '../../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-timeline-'));

/** One IOAS, `n` maps of a page each at their own IOVA, then every other one unmapped; no device, so nothing pins. */
function churn(n: number): object[] {
  const map = (i: number) => ({
    op: 'IOAS_MAP',
    seq: i,
    args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x1000', iova: `0x${(0x100000 + i * 0x1000).toString(16)}` },
  });
  const unmap = (i: number) => ({ op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: `0x${(0x100000 + i * 0x1000).toString(16)}`, length: '0x1000' } });
  return [
    traceHeader({ memory: 'any' }),
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    ...Array.from({ length: n }, (_, i) => map(i)),
    ...Array.from({ length: n / 2 }, (_, i) => unmap(2 * i)),
  ];
}

function write(name: string, lines: readonly (object | string)[], eol = '\n', bom = ''): string {
  const file = join(dir, name);
  writeFileSync(file, `${bom}${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol)}${eol}`);
  return file;
}

describe('checkpoints', () => {
  it('after the first pass, reach any event replaying at most K - 1 events, and the next one replaying one', async () => {
    const K = 7;
    const file = write('churn.jsonl', churn(60));
    const timeline = await Timeline.open(file, { ownChoices: false, checkpointEvery: K });
    await timeline.finish();
    const events = timeline.reached.ordinal;
    expect(events).toBe(92);
    expect(timeline.checkpoints.map((c) => c.ordinal)).toEqual(Array.from({ length: Math.floor(events / K) + 1 }, (_, i) => i * K));
    const reference = await Timeline.open(file, { ownChoices: false, checkpointEvery: 1 });
    await reference.finish();
    await fc.assert(
      fc.asyncProperty(fc.nat(events), async (n) => {
        const before = timeline.replayed;
        const p = await timeline.at(n);
        expect(timeline.replayed - before).toBeLessThanOrEqual(K - 1);
        expect(worldToJson(p.world)).toEqual(worldToJson(reference.checkpoints[n]?.world as World));
        if (n < events) {
          const stepped = timeline.replayed;
          expect((await timeline.at(n + 1)).ordinal).toBe(n + 1);
          expect(timeline.replayed - stepped).toBeLessThanOrEqual(1);
        }
      }),
      propertySettings(100),
    );
    await timeline.close();
    await reference.close();
  });

  it('share every part of the state the events between them left alone', async () => {
    const timeline = await Timeline.open(write('churn.jsonl', churn(60)), { ownChoices: false, checkpointEvery: 10 });
    await timeline.finish();
    const [, a, b] = timeline.checkpoints;
    // Maps of a page change only the IOAS: the processes, files and the other contexts' records are the same objects.
    expect(b?.world.processes).toBe(a?.world.processes);
    expect(b?.world.files).toBe(a?.world.files);
    expect(b?.world.contexts).not.toBe(a?.world.contexts);
  });

  it('find lines again in a file with CRLF line ends, a byte order mark, comments and blank lines', async () => {
    const lines = churn(10).flatMap((l, i) => (i % 3 === 1 ? ['# comment', '', l] : [l]));
    const plain = await Timeline.open(write('plain.jsonl', lines), { ownChoices: false, checkpointEvery: 2 });
    const crlf = await Timeline.open(write('crlf.jsonl', lines, '\r\n', '\ufeff'), { ownChoices: false, checkpointEvery: 2 });
    await plain.finish();
    await crlf.finish();
    for (let line = 1; line <= lines.length; line++) {
      const a = await plain.ordinalOfLine(line).catch((e: Error) => e.message.replace(/^.*: /, ''));
      const b = await crlf.ordinalOfLine(line).catch((e: Error) => e.message.replace(/^.*: /, ''));
      expect(b).toEqual(a);
      if (typeof a === 'number') expect(worldToJson((await crlf.at(a)).world)).toEqual(worldToJson((await plain.at(a)).world));
    }
  });
});
