/**
 * `diff FILE A B`: what changed between two events, found by walking only what the snapshots do
 * not share, agrees with comparing the two whole states; areas cut by a VFIO type1 unmap show
 * as split; A after B is refused.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIgnorable } from '../../../events/trace-line.ts';
import { diffCommand, diffOn } from '../../../replay/inspect/diff-command.ts';
import { diffWorlds } from '../../../replay/inspect/diff.ts';
import { InspectError } from '../../../replay/inspect/inspect-error.ts';
import { stateView } from '../../../replay/inspect/state-view.ts';
import { Timeline } from '../../../replay/inspect/timeline.ts';
import type { StateView } from '../../../replay/inspect/view-types.ts';
import type { World } from '../../../src/model/world.ts';
import { conformanceTraces } from '../../conformance/corpus.ts';
import { propertySettings } from '../../fc-settings.ts';
import { HEADER } from '../../harness.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const BUF = 0x7f0000000000n;
const IOVA = 0x1000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;
/** A type1 container emulated on iommufd with a mock domain; a map of 4 pages, then its second page unmapped. */
const SPLIT = [
  HEADER,
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'VFIO_SET_IOMMU', args: { arg: 1 } },
  { op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 3, vaddr: hex(BUF), iova: hex(IOVA), size: '0x4000' } },
  { op: 'VFIO_IOMMU_UNMAP_DMA', args: { flags: 0, iova: hex(IOVA + 0x1000n), size: '0x1000' } },
];

/** The whole states compared: every object, area and pages object of `b` not in `a` and back. */
function bruteForce(a: World, b: World) {
  const [va, vb] = [stateView(a), stateView(b)];
  const name = (id: number): string => (vb.contexts.find((c) => c.id === id) ?? va.contexts.find((c) => c.id === id))?.name as string;
  const objects = (v: StateView) => v.contexts.flatMap((c) => c.objects.map((o) => `${name(c.id)}/${o.id} ${o.type}`));
  const areas = (v: StateView) =>
    v.contexts.flatMap((c) => c.objects.flatMap((o) => (o.type === 'ioas' ? o.areas.map((r) => `${name(c.id)}/${o.id} ${r.iova}..${r.last} pages ${r.pages} at ${r.start_byte}`) : [])));
  const pages = (v: StateView) => v.contexts.flatMap((c) => c.pages.map((p) => `${name(c.id)}/pages ${p.id} ${p.pinned_pages} ${p.charged_pages}`));
  const minus = (x: string[], y: string[]): string[] => x.filter((s) => !y.includes(s)).sort();
  return {
    objectsCreated: minus(objects(vb), objects(va)),
    objectsDestroyed: minus(objects(va), objects(vb)),
    areasAdded: minus(areas(vb), areas(va)),
    areasRemoved: minus(areas(va), areas(vb)),
    pagesNow: minus(pages(vb), pages(va)),
    pagesBefore: minus(pages(va), pages(vb)),
  };
}

describe('diff', () => {
  it('agrees with comparing the whole states, over the corpus at random pairs of events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...conformanceTraces()), fc.nat(), fc.nat(), async (file, i, j) => {
        const lines = readFileSync(file, 'utf8').split('\n').flatMap((l, n) => (isIgnorable(l) ? [] : [n + 1]));
        const [la, lb] = [lines[i % lines.length] as number, lines[j % lines.length] as number].sort((x, y) => x - y);
        const timeline = await Timeline.open(file, { ownChoices: false, checkpointEvery: 16 });
        try {
          const a = (await timeline.at(await timeline.ordinalOfLine(la as number))).world;
          const b = (await timeline.at(await timeline.ordinalOfLine(lb as number))).world;
          const d = diffWorlds(a, b);
          const brute = bruteForce(a, b);
          const area = (x: { ioas: string; area: { iova: string; last: string; pages: number; start_byte: string } }) => `${x.ioas} ${x.area.iova}..${x.area.last} pages ${x.area.pages} at ${x.area.start_byte}`;
          const sorted = (xs: string[]) => [...new Set(xs)].sort();
          expect(sorted(d.objects.created.map((o) => `${o.object} ${o.type}`))).toEqual(brute.objectsCreated);
          expect(sorted(d.objects.destroyed.map((o) => `${o.object} ${o.type}`))).toEqual(brute.objectsDestroyed);
          const splitInto = d.areas.split.flatMap((s) => s.into.map((p) => area({ ioas: s.ioas, area: p })));
          const splitWas = d.areas.split.map((s) => area({ ioas: s.ioas, area: s.was }));
          expect(sorted([...d.areas.added.map(area), ...splitInto])).toEqual(brute.areasAdded);
          expect(sorted([...d.areas.removed.map(area), ...splitWas])).toEqual(brute.areasRemoved);
          const names = (xs: string[]) => sorted(xs.map((p) => p.replace(/ \d+ \d+$/, '')));
          const counted = d.pages.changed.filter((c) => c.pinned_pages !== undefined || c.charged_pages !== undefined).map((c) => c.pages);
          expect(sorted([...d.pages.created.map((p) => p.pages), ...counted])).toEqual(names(brute.pagesNow));
          expect(sorted([...d.pages.destroyed.map((p) => p.pages), ...counted])).toEqual(names(brute.pagesBefore));
        } finally {
          await timeline.close();
        }
      }),
      propertySettings(30),
    );
  }, 300_000);

  it('a type1 unmap inside a mapping splits its area, and unpins the hole', async () => {
    const file = writeTrace('split.jsonl', SPLIT);
    const timeline = await Timeline.open(file, { ownChoices: false });
    const doc = await diffOn(timeline, { line: 7 }, { line: 8 });
    await timeline.close();
    expect(doc.changes.areas).toEqual({
      added: [],
      removed: [],
      split: [
        {
          ioas: '1:3/1',
          was: { iova: '0x1000000', last: '0x1003fff', pages: 1, start_byte: '0x0', prot: ['READ', 'WRITE'] },
          into: [
            { iova: '0x1000000', last: '0x1000fff', pages: 1, start_byte: '0x0', prot: ['READ', 'WRITE'] },
            { iova: '0x1002000', last: '0x1003fff', pages: 1, start_byte: '0x2000', prot: ['READ', 'WRITE'] },
          ],
        },
      ],
    });
    // The two halves share the pages object: two areas refer to it now.
    expect(doc.changes.pages.changed).toEqual([{ pages: '1:3/pages 1', pinned_pages: { from: 4, to: 3 }, charged_pages: { from: 4, to: 3 }, area_refs: { from: 1, to: 2 } }]);
    expect(doc.changes.processes.counters).toEqual([{ pid: 1, pinned_vm: { from: '0x4000', to: '0x3000' } }]);
  });

  it('says what an event made, freed and charged, as text', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const text = await diffCommand(file, '6', '9', { ownChoices: false, json: false });
    expect(text.split('\n')).toEqual([
      `${file}: from after line 6 seq 4 IOAS_MAP (ran) to after line 9 seq 7 IOAS_UNMAP (ran)`,
      '  fds opened',
      '    pid 1 fd 4',
      '  contexts opened',
      '    1:4',
      '  objects created',
      '    1:4/1 ioas',
      '  objects changed',
      '    1:3/1 ioas: state populated -> empty',
      '  areas removed',
      '    1:3/1 0x1000000..0x100ffff pages 1',
      '  pages objects gone',
      '    1:3/pages 1: pinned 16 charged 16',
      '  counters',
      '    pid 1 pinned_vm 0x10000 -> 0x0',
      '    uid 1000 locked_vm 0x10000 -> 0x0',
    ]);
    expect(await diffCommand(file, 'seq:4', '6', { ownChoices: false, json: false })).toContain('\n  nothing changed');
  });

  it('refuses A after B, and lines that are no event', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    await expect(diffCommand(file, '9', '6', { ownChoices: false, json: true })).rejects.toThrow(new InspectError('diff 9 6: the first event comes after the second (A > B)'));
    await expect(diffCommand(file, '4', '6', { ownChoices: false, json: true })).rejects.toThrow(InspectError);
    await expect(diffCommand(file, '6', '12', { ownChoices: false, json: true })).rejects.toThrow(`${file}: line 12 is past the end of the trace (its last event is on line 9)`);
  });
});
