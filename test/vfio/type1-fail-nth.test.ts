/**
 * fail_nth on native type1 (drivers/vfio/vfio_iommu_type1.c): the points where the kernel
 * allocates or pins, in its order for each command. An injected failure is ENOMEM and leaves
 * the very snapshot the command was given; past the last point the command runs as it would.
 */
import { describe, expect, it } from 'vitest';
import { failedAt, runTrace } from '../harness.ts';
import { CONTAINER, HOST, getInfo, mapDma, open, setContainer, unmapDma } from './native-fixtures.ts';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const V2 = CONTAINER('TYPE1v2_IOMMU');
const dirtyStart = { op: 'VFIO_IOMMU_DIRTY_PAGES', args: { flags: ['START'] } };

/** The check of each injection point `event` reaches after `prologue`, each failing atomically. */
function points(prologue: readonly object[], event: object, header: object = HOST): string[] {
  const out: string[] = [];
  for (let k = 1; k < 64; k++) {
    const r = runTrace([...prologue, { ...event, fail_nth: k }], header).at(-1);
    if (r?.outcome.injected !== true) {
      expect(r?.errno).toBe('ok');
      return out;
    }
    const check = r.outcome.result?.check ?? '';
    failedAt(r, check);
    out.push(check.slice(0, check.indexOf(':')));
  }
  throw new Error('no end to the injection points');
}

describe('fail_nth on native type1', () => {
  it('VFIO_SET_IOMMU: the struct vfio_iommu, then each group\'s struct vfio_iommu_group and struct vfio_domain', () => {
    const prologue = [open('/dev/vfio/vfio'), open('/dev/vfio/7'), open('/dev/vfio/8'), setContainer(4, 3), setContainer(5, 3)];
    expect(points(prologue, { op: 'VFIO_SET_IOMMU', args: { arg: 'TYPE1v2_IOMMU' } })).toEqual([
      'ENOMEM vfio_iommu_type1_open',
      ...Array(4).fill('ENOMEM vfio_iommu_type1_attach_group'),
    ]);
  });
  it('VFIO_GROUP_SET_CONTAINER on a container with type1: the group joins through vfio_iommu_type1_attach_group()', () => {
    expect(points([...V2, open('/dev/vfio/8')], setContainer(5, 3))).toEqual(Array(2).fill('ENOMEM vfio_iommu_type1_attach_group'));
  });
  it('VFIO_IOMMU_MAP_DMA: the struct vfio_dma, the first pin; with dirty tracking on, the bitmap', () => {
    expect(points(V2, mapDma(IOVA, 4n * PAGE))).toEqual(['ENOMEM vfio_dma_do_map', 'ENOMEM vfio_pin_pages_remote']);
    expect(points([...V2, dirtyStart], mapDma(IOVA, 4n * PAGE))).toEqual(['ENOMEM vfio_dma_do_map', 'ENOMEM vfio_pin_pages_remote', 'ENOMEM vfio_dma_bitmap_alloc']);
  });
  it('a map refused by an earlier check reaches no point', () => {
    const [r] = runTrace([...V2, mapDma(IOVA, PAGE), { ...mapDma(IOVA, PAGE), fail_nth: 1 }], HOST).slice(-1);
    expect(r?.outcome.injected).toBe(false);
    failedAt(r, 'EEXIST vfio_dma_do_map: the range overlaps a mapping');
  });
  it('VFIO_IOMMU_DIRTY_PAGES START: a bitmap per mapping; a failure leaves tracking off', () => {
    const prologue = [...V2, mapDma(IOVA, PAGE), mapDma(IOVA + PAGE, PAGE, {}, PAGE)];
    expect(points(prologue, dirtyStart)).toEqual(Array(2).fill('ENOMEM vfio_dma_bitmap_alloc'));
  });
  it('VFIO_IOMMU_GET_INFO: the chain grows per capability, and the IOVA ranges are gathered first', () => {
    expect(points(V2, getInfo(0x1000))).toEqual([
      'ENOMEM vfio_info_cap_add',
      'ENOMEM vfio_info_cap_add',
      'ENOMEM vfio_iommu_iova_build_caps',
      'ENOMEM vfio_info_cap_add',
    ]);
  });
  it('VFIO_IOMMU_UNMAP_DMA allocates nothing it cannot do without', () => {
    expect(points([...V2, mapDma(IOVA, PAGE)], unmapDma(IOVA, PAGE))).toEqual([]);
  });
});
