/**
 * The pins legacy VFIO holds, as the page refcounts show them (`TEST_MD_CHECK_REFS`,
 * `GUP_PIN_COUNTING_BIAS` per pin) and as fork() sees them (`folio_maybe_dma_pinned()`): a
 * native type1 mapping pins each page once per container, a SPAPR pre-registered region once
 * per mm, a SPAPR v1 TCE the system page it points into, once per TCE.
 */
import { describe, expect, it } from 'vitest';
import { errnos, runTrace } from '../harness.ts';
import { BUF, CONTAINER, HOST, hex, mapDma, open, setContainer, setIommu, unmapDma } from './native-fixtures.ts';
import { PAGE as PAGE64K, PE, RAM, V1, V2, enable, map, power, register } from './spapr-fixtures.ts';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const refs = (uptr: bigint, length: bigint, n: number, pid?: number) => ({
  op: 'TEST_MD_CHECK_REFS',
  ...(pid === undefined ? {} : { pid }),
  args: { uptr: hex(uptr), length: hex(length), refs: n },
});
const checks = (ran: ReturnType<typeof runTrace>): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);

describe('native type1 pins (vfio_pin_pages_remote)', () => {
  /** Container fd 3 with group 7 (fd 4), container fd 5 with group 8 (fd 6), both TYPE1v2; /dev/iommu as fd 7. */
  const TWO = [...CONTAINER('TYPE1v2_IOMMU'), open('/dev/vfio/vfio'), open('/dev/vfio/8'), setContainer(6, 5), setIommu('TYPE1v2_IOMMU', 5), open('/dev/iommu')];
  it('each container pins the pages it maps, once per mapping; an unmap and the release of the container unpin', () => {
    const ran = runTrace([
      ...TWO,
      mapDma(IOVA, 4n * PAGE),
      refs(BUF, 4n * PAGE, 1),
      { ...mapDma(IOVA, 2n * PAGE), fd: 5 },
      refs(BUF, 2n * PAGE, 2),
      refs(BUF + 2n * PAGE, 2n * PAGE, 1),
      refs(BUF, 4n * PAGE, 1),
      unmapDma(IOVA, 4n * PAGE),
      refs(BUF, 2n * PAGE, 1),
      { op: 'CLOSE', args: { fd: 6 } },
      refs(BUF, 4n * PAGE, 0),
    ], HOST).slice(TWO.length);
    expect(checks(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'EIO iommufd_test_md_check_refs: pin count is not refs', 'ok', 'ok', 'ok', 'ok']);
  });
  it('iommufd pins the same pages on top of them', () => {
    const iommufd = [{ op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
    const ioasMap = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: hex(BUF), length: hex(2n * PAGE), iova: '0x1000000' } };
    const ran = runTrace([...TWO, ...iommufd, mapDma(IOVA, 2n * PAGE), ioasMap, refs(BUF, 2n * PAGE, 2)], HOST);
    expect(errnos(ran.slice(TWO.length))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });
  it('fork() leaves a pinned private page to the parent and gives the child a copy', () => {
    const PRIVATE = BUF + 0x100000n;
    const ran = runTrace([
      ...CONTAINER('TYPE1v2_IOMMU'),
      open('/dev/iommu'),
      { op: 'MMAP', args: { addr: hex(PRIVATE), length: hex(4n * PAGE), shared: false } },
      { op: 'TOUCH', args: { addr: hex(PRIVATE), length: hex(4n * PAGE), write: true } },
      mapDma(IOVA, 4n * PAGE, {}, 0x100000n),
      { op: 'FORK', expect: { out: { pid: 2 } } },
      refs(PRIVATE, 4n * PAGE, 1, 1),
      refs(PRIVATE, 4n * PAGE, 0, 2),
    ], HOST);
    expect(errnos(ran)).toEqual(Array(ran.length).fill('ok'));
  });
});

describe('SPAPR pins (mm_iommu_do_alloc, tce_iommu_use_page)', () => {
  /** Two v2 containers of one process: fd 3 with group 1, fd 5 with group 2. */
  const TWO_GROUPS_V2 = [...V2, open('/dev/vfio/vfio'), open('/dev/vfio/2'), setContainer(6, 5), setIommu('SPAPR_TCE_v2_IOMMU', 5)];
  it('a pre-registered region pins its pages once, however many containers of the mm register it', () => {
    const ran = runTrace([
      ...TWO_GROUPS_V2,
      open('/dev/iommu'),
      register(RAM, 4n * PAGE64K),
      refs(RAM, 4n * PAGE64K, 1),
      register(RAM, 4n * PAGE64K, {}, 5),
      refs(RAM, 4n * PAGE64K, 1),
      refs(RAM + 4n * PAGE64K, PAGE64K, 0),
    ], power([PE(1), PE(2)]));
    expect(errnos(ran)).toEqual(Array(ran.length).fill('ok'));
  });
  it('v2 TCEs pin nothing more than the region', () => {
    const ran = runTrace([...V2, open('/dev/iommu'), register(RAM, PAGE64K), map(0n, RAM, PAGE64K), refs(RAM, PAGE64K, 1)], power());
    expect(errnos(ran)).toEqual(Array(ran.length).fill('ok'));
  });
  it('a v1 TCE pins its system page once per TCE: sixteen 4 KiB TCEs in a 64 KiB page', () => {
    const ran = runTrace([
      ...V1,
      open('/dev/iommu'),
      enable(),
      map(0n, RAM, PAGE64K),
      refs(RAM, PAGE64K, 16),
      map(0x10000n + 0xf000n, RAM + 0x1f000n, 0x3000n),
      refs(RAM + PAGE64K, PAGE64K, 1),
      refs(RAM + 2n * PAGE64K, PAGE64K, 2),
      { op: 'VFIO_IOMMU_UNMAP_DMA', fd: 3, args: { iova: '0x0', size: '0x8000' } },
      refs(RAM, PAGE64K, 8),
    ], power());
    expect(errnos(ran)).toEqual(Array(ran.length).fill('ok'));
  });
});
