/**
 * `replay --explain`: each divergence listed carries the part of the state its event named, as
 * it was before the event: the context, the objects its arguments name, the IOAS around each
 * IOVA range with the nearest areas on either side and their pages objects, the issuing
 * process's counters against its limit. Without the option, nothing is added.
 */
import { describe, expect, it } from 'vitest';
import { replayFile } from '../../../replay/replay-file.ts';
import { formatTextReport } from '../../../replay/text-report.ts';
import { replayReport } from '../../../replay/replay-file.ts';
import { HEADER } from '../../harness.ts';
import { traceHeader } from '../../fixtures.ts';
import { writeTrace } from './traces.ts';

const map = (va: string, length: string, iova: string) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: va, length, iova },
  expect: {},
});
const DIVERGING = [
  traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: [], rlimit_memlock: '0x20000' }] }),
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  map('0x7f0000000000', '0x10000', '0x1000000'),
  map('0x7f0000400000', '0x4000', '0x1040000'),
  // Meets the first area: EEXIST.
  map('0x7f0000100000', '0x10000', '0x1008000'),
  // Would pass RLIMIT_MEMLOCK: ENOMEM.
  map('0x7f0000200000', '0x20000', '0x1100000'),
  { op: 'DESTROY', args: { id: 9 }, expect: {} },
];

describe('replay --explain', () => {
  it('adds the state each diverging event named, before it ran', async () => {
    const file = writeTrace('diverging.jsonl', DIVERGING);
    const r = await replayFile(file, { ownChoices: false, explain: true });
    expect(r.divergences.map((d) => [d.line, d.actual])).toEqual([
      [7, { errno: 'EEXIST' }],
      [8, { errno: 'ENOMEM' }],
      [9, { errno: 'ENOENT' }],
    ]);
    const [exists, nomem, destroy] = r.divergences.map((d) => d.explain);
    expect(exists?.context).toBe('1:3');
    expect(exists?.objects).toMatchObject([{ field: 'ioas_id', id: 1, object: { type: 'ioas', id: 1, users: 2, area_count: 2 } }]);
    expect(exists?.windows).toMatchObject([
      {
        fields: 'ioas_id iova length',
        ioas: 1,
        window: { start: '0x1008000', last: '0x1017fff' },
        // The area it meets, and the next one above: none below.
        areas: [{ iova: '0x1000000', last: '0x100ffff' }, { iova: '0x1040000', last: '0x1043fff' }],
        pages: [{ id: 1, pinned_pages: 16 }],
      },
    ]);
    // 0x14000 bytes charged, 0x20000 more asked, against a limit of 0x20000.
    expect(nomem?.process).toEqual({ pid: 1, uid: 1000, rlimit_memlock: '0x20000', locked_vm: '0x0', pinned_vm: '0x14000', user_locked_vm: '0x14000' });
    expect(nomem?.windows[0]?.areas).toMatchObject([{ iova: '0x1040000' }]);
    expect(destroy?.objects).toEqual([{ field: 'id', id: 9, object: null }]);
    const text = formatTextReport(replayReport([r], false));
    expect(text).toContain(
      [
        '  line 9 DESTROY: expected {}, actual {"errno":"ENOENT"} [ENOENT iommufd_object_remove: no object with this id]',
        '    context 1:3; pid 1 uid 1000 rlimit_memlock 0x20000 locked_vm 0x0 pinned_vm 0x14000 user_locked_vm 0x14000',
        '    id 9: no such object',
      ].join('\n'),
    );
    expect(text).toContain('    ioas 1 around 0x1008000..0x1017fff (ioas_id iova length):\n      area 0x1000000..0x100ffff pages 1 at byte 0x0 READ,WRITE\n');
  });

  it('finds the IOAS of a VFIO type1 unmap on iommufd: the compat IOAS', async () => {
    const file = writeTrace('compat.jsonl', [
      HEADER,
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } },
      { op: 'VFIO_SET_IOMMU', args: { arg: 3 } },
      { op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 3, vaddr: '0x7f0000000000', iova: '0x1000000', size: '0x4000' } },
      // TYPE1v2 refuses to cut a mapping: ENOENT.
      { op: 'VFIO_IOMMU_UNMAP_DMA', args: { flags: 0, iova: '0x1001000', size: '0x1000' }, expect: {} },
    ]);
    const r = await replayFile(file, { ownChoices: false, explain: true });
    expect(r.divergences[0]?.explain?.windows).toMatchObject([{ fields: 'vfio_ioas iova size', ioas: 1, areas: [{ iova: '0x1000000', last: '0x1003fff' }] }]);
  });

  it('adds nothing without the option', async () => {
    const r = await replayFile(writeTrace('diverging.jsonl', DIVERGING), { ownChoices: false });
    expect(r.divergences.every((d) => !('explain' in d))).toBe(true);
  });
});
