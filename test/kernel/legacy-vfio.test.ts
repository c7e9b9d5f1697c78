/**
 * The rows of the legacy VFIO paths before iommufd: small type1 traces under the last release
 * without a commit and the first with it, and envelope mode naming the releases a legacy trace
 * is consistent with.
 */
import { describe, expect, it } from 'vitest';
import { envelopeFile } from '../../replay/envelope.ts';
import { type Ran, errnos, failedAt, runTrace } from '../harness.ts';
import { CONTAINER, checkExtension, getInfo, host, mapDma, unmapDma } from '../vfio/native-fixtures.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const V2 = CONTAINER('TYPE1v2_IOMMU');

const on = (kernel: string, more: object = {}) => {
  const h = host(more);
  return { ...h, env: { ...h.env, kernel } };
};
const after = (kernel: string, events: readonly object[], more: object = {}): Ran[] => runTrace([...V2, ...events], on(kernel, more)).slice(V2.length);
const ret = (r: Ran | undefined): bigint | undefined => r?.outcome.result?.ret;

describe('VFIO_IOMMU_DIRTY_PAGES and the dirty-bitmap unmap (d6a4c185660c, 331e33d2960c: 5.8)', () => {
  const start = { op: 'VFIO_IOMMU_DIRTY_PAGES', args: { flags: ['START'] } };
  const dirtyUnmap = unmapDma(IOVA, PAGE, { flags: ['GET_DIRTY_BITMAP'] });

  it('5.4 answers DIRTY_PAGES as a command type1 does not know (ENOTTY) and the flag EINVAL', () => {
    const ran = after('5.4', [start, mapDma(IOVA, PAGE), dirtyUnmap]);
    failedAt(ran[0], 'ENOTTY vfio_iommu_type1_ioctl: no VFIO_IOMMU_DIRTY_PAGES in this release');
    failedAt(ran[2], 'EINVAL vfio_iommu_type1_unmap_dma: argsz below minsz or flags has unknown bits');
  });

  it('5.8 starts tracking', () => {
    expect(errnos(after('5.8', [start]))).toEqual(['ok']);
  });
});

describe('UNMAP_DMA ALL and the VADDR update (c19650995374, c3cbab24db38: 5.12)', () => {
  const events = [mapDma(IOVA, PAGE), unmapDma(IOVA, PAGE, { flags: ['VADDR'] }), unmapDma(0n, 0n, { flags: ['ALL'] }), mapDma(IOVA, PAGE, { flags: ['VADDR'] })];

  it('5.10 refuses every new flag with EINVAL and offers neither extension', () => {
    expect(errnos(after('5.10', events))).toEqual(['ok', 'EINVAL', 'EINVAL', 'EINVAL']);
    expect(after('5.10', [checkExtension('UNMAP_ALL'), checkExtension('UPDATE_VADDR')]).map(ret)).toEqual([0n, 0n]);
  });

  it('5.12 invalidates the vaddr, unmaps all, and offers both', () => {
    expect(errnos(after('5.12', events))).toEqual(['ok', 'ok', 'ok', 'ENOENT']);
    expect(after('5.12', [checkExtension('UNMAP_ALL'), checkExtension('UPDATE_VADDR')]).map(ret)).toEqual([1n, 1n]);
  });
});

describe('dma_entry_limit (492855939bdb, 5.1)', () => {
  const limited = { params: { 'vfio_iommu_type1.dma_entry_limit': 1 } };
  const two = [mapDma(IOVA, PAGE), mapDma(IOVA + PAGE, PAGE, {}, PAGE)];

  it('before 5.1 mappings are not counted; 5.1 refuses the one past the limit with ENOSPC', () => {
    expect(errnos(after('4.2', two, limited))).toEqual(['ok', 'ok']);
    failedAt(after('5.1', two, limited)[1], 'ENOSPC vfio_dma_do_map: dma_entry_limit mappings exist');
  });
});

describe('VFIO_IOMMU_GET_INFO capabilities (a717072007e8 5.4, ad721705d09c 5.8, 7d6e1329652e 5.10)', () => {
  const ids = (r: Ran | undefined): unknown => (r?.out['caps'] as { id: bigint }[] | undefined)?.map((c) => c.id);

  it('5.1 writes back argsz, PGSIZES and the page sizes only', () => {
    expect(after('5.1', [getInfo(128)])[0]?.out).toEqual({ argsz: 128n, flags: 1n, iova_pgsizes: 0x40201000n });
  });

  it('the chain grows: IOVA_RANGE from 5.4, MIGRATION before it from 5.8, DMA_AVAIL between them from 5.10', () => {
    expect(['5.4', '5.8', '5.10'].map((k) => ids(after(k, [getInfo(128)])[0]))).toEqual([[1n], [2n, 1n], [2n, 3n, 1n]]);
    expect(after('5.4', [getInfo(24)])[0]?.out).toEqual({ argsz: 72n, flags: 3n, iova_pgsizes: 0x40201000n, cap_offset: 0n });
  });
});

describe('envelope mode on a legacy trace', () => {
  it('a capture of a 5.10 kernel is consistent with 5.8 and 5.10 only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legacy-'));
    const file = join(dir, 'legacy.jsonl');
    const header = host();
    const events = [
      ...V2.map((e) => ({ ...e, expect: {} })),
      { op: 'VFIO_IOMMU_DIRTY_PAGES', args: { flags: ['START'] }, expect: {} },
      { ...unmapDma(0n, 0n, { flags: ['ALL'] }), expect: { errno: 'EINVAL' } },
    ];
    writeFileSync(file, `${[header, ...events].map((e) => JSON.stringify(e)).join('\n')}\n`);
    const t = await envelopeFile(file, { ownChoices: false });
    expect(t.consistent).toEqual(['5.8', '5.10']);
  });
});
