/**
 * The selftest's dma-buf (drivers/iommu/iommufd/selftest.c: IOMMU_TEST_OP_DMABUF_GET,
 * IOMMU_TEST_OP_DMABUF_REVOKE) mapped by IOMMU_IOAS_MAP_FILE (io_pagetable.c:
 * `iopt_map_file_pages()`, `iopt_alloc_dmabuf_pages()`; pages.c: `iopt_map_dmabuf()`,
 * `iopt_revoke_notify()`), as tools/testing/selftests/iommu/iommufd.c's `dmabuf_simple` and
 * `dmabuf_revoke` run it, and what an access and IOAS_CHANGE_PROCESS do with such an area.
 */
import { describe, expect, it } from 'vitest';
import { checkWorld } from '../../../src/invariants/invariants.ts';
import { type Ran, errnos, runTrace } from '../../harness.ts';

/** uid 1000 with 1 MiB of memlock: a 2 MiB dma-buf mapped into a mock domain is not charged. */
const HOST = {
  trace: 'iommufd',
  version: '1.1',
  env: {
    memory: 'declared',
    mappings: [{ addr: '0x7f0000000000', length: '0x100000', shared: true }],
    processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x100000', caps: [] }],
  },
};
const run = (events: readonly object[]) => runTrace(events, HOST);
const checks = (ran: readonly (Ran | undefined)[]): (string | undefined)[] => ran.map((r) => r?.outcome.result?.check ?? r?.errno);

const BUF = 4 * 4096;
/** fd 3, IOAS 1, a mock domain (HWPT 4, device 3). */
const MOCK = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
const get = (length: number | string) => ({ op: 'TEST_DMABUF_GET', args: { length, open_flags: 0x80000 } });
const revoke = (fd: number, revoked: number) => ({ op: 'TEST_DMABUF_REVOKE', args: { dmabuf_fd: fd, revoked } });
const mapFile = (fd: number, start: number, length: number | string, iova?: string) => ({
  op: 'IOAS_MAP_FILE',
  args: { ioas_id: 1, flags: [...(iova === undefined ? [] : ['FIXED_IOVA']), 'READABLE', 'WRITEABLE'], fd, start, length, ...(iova === undefined ? {} : { iova }) },
});

describe('IOMMU_TEST_OP_DMABUF_GET (iommufd_test_dmabuf_get)', () => {
  it('returns the fd of a buffer of length rounded up to pages; 0 or more than 512 pages is EINVAL', () => {
    const ran = run([...MOCK, get(1), get(0), get(512 * 4096 + 1), get(512 * 4096)]);
    expect(ran[3]?.outcome.result?.ret).toBe(4n);
    expect(checks(ran.slice(4, 6))).toEqual(['EINVAL iommufd_test_dmabuf_get: length is 0 or over 512 pages', 'EINVAL iommufd_test_dmabuf_get: length is 0 or over 512 pages']);
    expect(ran[6]?.outcome.result?.ret).toBe(5n);
    // One byte asked, one page exported: a map of the page fits, of more does not.
    const maps = run([...MOCK, get(1), mapFile(4, 0, 4096), mapFile(4, 0, 8192)]);
    expect(errnos(maps.slice(4))).toEqual(['ok', 'EINVAL']);
  });
});

describe('dmabuf_simple: IOAS_MAP_FILE of a dma-buf (iopt_alloc_dmabuf_pages)', () => {
  it('an empty map, one starting at the end and one past it are EINVAL; the whole buffer maps', () => {
    const ran = run([...MOCK, get(BUF), mapFile(4, 0, 0), mapFile(4, BUF, BUF), mapFile(4, 0, BUF + 1), mapFile(4, 0, BUF)]);
    expect(checks(ran.slice(4))).toEqual([
      'EINVAL iopt_map_file_pages: length is 0',
      'EINVAL iopt_alloc_dmabuf_pages: the range is past the dma-buf or too long',
      'EINVAL iopt_alloc_dmabuf_pages: the range is past the dma-buf or too long',
      'ok',
    ]);
    expect(ran[7]?.out).toEqual({ iova: 0x1000000n });
  });
  it('device memory pins and charges nothing: 2 MiB mapped into a domain past a 1 MiB limit', () => {
    const ran = run([...MOCK, get(512 * 4096), mapFile(4, 0, 512 * 4096)]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const world = ran[4]?.outcome.world;
    expect([world?.processes.get(1)?.pinnedVm, world?.userLockedVm.get(1000) ?? 0n]).toEqual([0n, 0n]);
    expect([...(world?.contexts.get(1)?.pages.values() ?? [])].map((p) => [p.kind, p.pins.length])).toEqual([['dmabuf', 0]]);
    expect(checkWorld(world!)).toEqual([]);
  });
  it('the map holds the dma-buf, not its fd: closed, the area stays and unmaps', () => {
    const ran = run([...MOCK, get(BUF), mapFile(4, 0, BUF), { op: 'CLOSE', args: { fd: 4 } }, mapFile(4, 0, BUF), { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0x1000000', length: BUF } }]);
    // dma_buf_get() fails, and so does the fget() of a file map.
    expect(checks(ran.slice(5))).toEqual(['ok', 'EBADF iopt_map_file_pages: fget finds no open file', 'ok']);
  });
});

describe('dmabuf_revoke: the exporter revokes (dma_buf_move_notify → iopt_revoke_notify)', () => {
  it('maps fail with ENODEV while revoked, and work again once it is not; the old area stays', () => {
    const ran = run([
      ...MOCK,
      get(BUF),
      mapFile(4, 0, BUF),
      revoke(4, 1),
      { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1 } },
      mapFile(4, 0, BUF),
      revoke(4, 0),
      mapFile(4, 0, BUF),
      { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0x1000000', length: BUF } },
      mapFile(4, 0, BUF, '0x1000000'),
    ]);
    expect(checks(ran.slice(4))).toEqual(['ok', 'ok', 'ok', 'ENODEV iopt_map_dmabuf: the dma-buf is revoked', 'ok', 'ok', 'ok', 'ok']);
    for (const r of ran) expect(checkWorld(r.outcome.world)).toEqual([]);
  });
  it('a revoke of an fd not open is EBADF, of one not a dma-buf EINVAL (dma_buf_get)', () => {
    const ran = run([...MOCK, revoke(4, 1), revoke(3, 1)]);
    expect(checks(ran.slice(3))).toEqual(['EBADF dma_buf_get: the fd is not open', 'EINVAL dma_buf_get: not a dma-buf']);
  });
  it('a revoke to the state it is in changes nothing', () => {
    const ran = run([...MOCK, get(BUF), revoke(4, 0)]);
    expect(ran[4]?.outcome.world).toBe(ran[4]?.before);
  });
});

describe('what else meets a dma-buf area', () => {
  const ACCESS = [{ op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: ['NEEDS_PIN_PAGES'] } }];
  it('ACCESS_RW is EINVAL (iopt_pages_rw_access: no CPU access to a dma-buf)', () => {
    const ran = run([...MOCK, get(BUF), mapFile(4, 0, BUF), ...ACCESS, { op: 'TEST_ACCESS_RW', args: { id: 5, iova: '0x1000000', length: 8, uptr: '0x7f0000000000' } }]);
    expect(ran[5]?.out).toEqual({ out_access_fd: 5n });
    expect(checks([ran[6]])).toEqual(['EINVAL iopt_pages_rw_access: a dma-buf is no memory the CPU copies']);
  });
  it('ACCESS_PAGES pins what a domain already holds, and faults where nothing does (pfn_reader_user has no user memory)', () => {
    const pages = { op: 'TEST_ACCESS_PAGES', args: { id: 5, iova: '0x1000000', length: 4096 } };
    const held = run([...MOCK, get(BUF), mapFile(4, 0, BUF), ...ACCESS, pages]);
    expect(held[6]?.errno).toBe('ok');
    const hole = run([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, get(BUF), mapFile(4, 0, BUF, '0x1000000'), { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: ['NEEDS_PIN_PAGES'] } }, pages]);
    expect([hole[3]?.errno, hole[4]?.out]).toEqual(['ok', { out_access_fd: 5n }]);
    expect(hole[5]?.errno).toBe('EFAULT');
  });
  it('IOAS_CHANGE_PROCESS refuses an IOAS with a dma-buf area: only file maps move (EINVAL)', () => {
    const ran = run([...MOCK, get(BUF), mapFile(4, 0, BUF), { op: 'IOAS_CHANGE_PROCESS' }]);
    expect(ran[5]?.errno).toBe('EINVAL');
  });
});
