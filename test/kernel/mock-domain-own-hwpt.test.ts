/**
 * TEST_MOCK_DOMAIN before 65c619ae0680 (6.4): 6.2 and 6.3 bound no iommufd device; the
 * selftest object and a HWPT of its own took two ids, the object held the HWPT, and user space
 * destroyed both (the 6.3 selftest's `access_pin` and `all_aligns_copy`: the device id, then
 * the HWPT id). Also: mock devices of the trace header follow the release's mock page table.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { Replayer } from '../../replay/replayer.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { MOCK_HUGE_PAGE_SIZE, MOCK_PAGE_SIZE } from '../../src/iommufd/selftest/mock.ts';
import { HEADER, errnos, runTrace } from '../harness.ts';

const on = (kernel: string, env: object = {}) => ({ ...HEADER, env: { ...HEADER.env, ...env, kernel } });

const BUFFER = '0x7f0000000000';
const MOCK_APERTURE_START = '0x1000000';
const checkMap = (id: number) => ({ op: 'TEST_MD_CHECK_MAP', args: { id, iova: MOCK_APERTURE_START, length: '0x10000', uptr: BUFFER }, expect: {} });

/** The 6.3 selftest's `iommufd_ioas` fixture with a mock domain, its `ioas_destroy`, then an `access_pin`-like domain added over a mapped area, with the results 6.3 gave. */
const SELFTEST_6_3 = [
  { seq: 1, op: 'MMAP', args: { addr: BUFFER, length: '0x10000', prot: ['READ', 'WRITE'], shared: true }, expect: { out: { addr: BUFFER } } },
  { seq: 2, op: 'OPEN', args: { path: '/dev/iommu' }, expect: { out: { fd: 3 } } },
  { seq: 3, op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 1 } } },
  { seq: 4, op: 'TEST_MOCK_DOMAIN', args: { id: 1 }, expect: { out: { out_stdev_id: 2, out_hwpt_id: 3 } } },
  // ioas_destroy: the HWPT holds the IOAS.
  { seq: 5, op: 'DESTROY', args: { id: 1 }, expect: { errno: 'EBUSY' } },
  {
    seq: 6,
    op: 'IOAS_MAP',
    args: { ioas_id: 1, flags: ['FIXED_IOVA', 'WRITEABLE', 'READABLE'], user_va: BUFFER, length: '0x10000', iova: MOCK_APERTURE_START },
    expect: {},
  },
  { seq: 7, ...checkMap(3) },
  { seq: 8, op: 'TEST_MOCK_DOMAIN', args: { id: 1 }, expect: { out: { out_stdev_id: 4, out_hwpt_id: 5 } } },
  { seq: 9, ...checkMap(5) },
  // The selftest object holds its HWPT: EBUSY until the object goes (iommufd_object_destroy_user()).
  { seq: 10, op: 'DESTROY', args: { id: 5 }, expect: { errno: 'EBUSY' } },
  { seq: 11, op: 'DESTROY', args: { id: 4 }, expect: {} },
  { seq: 12, op: 'DESTROY', args: { id: 5 }, expect: {} },
  // iommufd_get_ioas(): a HWPT id is no IOAS.
  { seq: 13, op: 'TEST_MOCK_DOMAIN', args: { id: 3 }, expect: { errno: 'ENOENT' } },
  { seq: 14, op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: MOCK_APERTURE_START, length: '0x10000' }, expect: {} },
  { seq: 15, op: 'DESTROY', args: { id: 2 }, expect: {} },
  { seq: 16, op: 'DESTROY', args: { id: 1 }, expect: { errno: 'EBUSY' } },
  { seq: 17, op: 'DESTROY', args: { id: 3 }, expect: {} },
  { seq: 18, op: 'DESTROY', args: { id: 1 }, expect: {} },
];

function replayed(header: object, events: readonly object[], kernel?: string) {
  const trace = parseTraceText([header, ...events].map((e) => JSON.stringify(e)).join('\n'), 'inline.jsonl');
  const r = new Replayer(trace.header, { ownChoices: false, ...(kernel === undefined ? {} : { kernel }) });
  for (const e of trace.events) r.feed(e);
  return r;
}

describe('TEST_MOCK_DOMAIN with a HWPT of its own (65c619ae0680, 6.4)', () => {
  it('a 6.3 selftest-style trace replays clean under 6.3 and 6.2', () => {
    for (const kernel of ['6.3', '6.2']) {
      const r = replayed(on(kernel), SELFTEST_6_3);
      expect(r.divergences).toEqual([]);
      expect(r.counts.ok).toBe(SELFTEST_6_3.length);
    }
  });

  it('6.4 diverges where the kernel changed: three ids, an automatic HWPT shared by both devices', () => {
    const r = replayed(on('6.4'), SELFTEST_6_3);
    expect(r.divergences[0]?.seq).toBe(4);
    const ran = runTrace(SELFTEST_6_3.slice(0, 8).map(({ expect: _, ...e }) => e), on('6.4'));
    expect(ran[3]?.out).toEqual({ out_stdev_id: 2n, out_hwpt_id: 4n, out_idev_id: 3n });
    expect(ran[7]?.out).toEqual({ out_stdev_id: 5n, out_hwpt_id: 4n, out_idev_id: 6n });
  });

  it('6.3 writes no out_idev_id', () => {
    const ran = runTrace(SELFTEST_6_3.slice(1, 4).map(({ expect: _, ...e }) => e), on('6.3'));
    expect(ran[2]?.out).toEqual({ out_stdev_id: 2n, out_hwpt_id: 3n });
  });

  it('destroying the selftest object takes the domain out of the IOAS: unpinned and unmapped before the HWPT goes', () => {
    const pinned = [
      ...SELFTEST_6_3.slice(0, 4),
      SELFTEST_6_3[5],
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x10000', uptr: BUFFER, refs: 1 } },
      { op: 'DESTROY', args: { id: 2 } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x10000', uptr: BUFFER, refs: 0 } },
      { op: 'TEST_MD_CHECK_MAP', args: { id: 3, iova: MOCK_APERTURE_START, length: '0x10000', uptr: BUFFER } },
    ].map((e) => {
      const { expect: _, seq: __, ...rest } = e as { expect?: unknown; seq?: unknown };
      return rest;
    });
    // iommufd_test_md_check_pa(): the mock xarray of the emptied domain has no entry: EINVAL.
    expect(errnos(runTrace(pinned, on('6.3')).slice(4))).toEqual(['ok', 'ok', 'ok', 'ok', 'EINVAL']);
  });

  it('teardown_iommufd(): closing the fd with both objects alive unpins everything', () => {
    const teardown = [
      ...SELFTEST_6_3.slice(0, 4),
      SELFTEST_6_3[5],
      { op: 'CLOSE', args: { fd: 3 } },
      { op: 'OPEN', args: { path: '/dev/iommu' } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x10000', uptr: BUFFER, refs: 0 } },
    ].map((e) => {
      const { expect: _, seq: __, ...rest } = e as { expect?: unknown; seq?: unknown };
      return rest;
    });
    expect(errnos(runTrace(teardown, on('6.3')))).toEqual(Array(teardown.length).fill('ok'));
  });
});

describe('mock devices of the trace header follow the mock page table of the release (e93d5945ed5b, 6.19)', () => {
  const devices = [{ name: 'm0', kind: 'mock' }];
  const pgsizes = (kernel: string) => createWorld(parseTraceText(JSON.stringify(on(kernel, { devices })), 'h.jsonl').header).devices[0]?.model.pgsizeBitmap;

  it('before 6.19: the xarray of MOCK_IO_PAGE_SIZE entries', () => {
    expect(pgsizes('6.18')).toBe(MOCK_PAGE_SIZE);
    expect(pgsizes('6.8')).toBe(MOCK_PAGE_SIZE);
  });

  it('6.19: the AMDv1 table, every size from 2 KiB up', () => {
    const bitmap = pgsizes('6.19') ?? 0n;
    expect(bitmap & MOCK_PAGE_SIZE).toBe(MOCK_PAGE_SIZE);
    expect(bitmap & MOCK_HUGE_PAGE_SIZE).toBe(MOCK_HUGE_PAGE_SIZE);
  });

  /** The mock's cdev as fd 3, /dev/iommu as fd 4; IOAS 2 the compat IOAS, the device attached to it through an automatic domain; then the page sizes VFIO sees. */
  const compatInfo = [
    { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio0' } },
    { op: 'OPEN' },
    { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } },
    { op: 'IOAS_ALLOC', fd: 4 },
    { op: 'VFIO_IOAS', fd: 4, args: { ioas_id: 2, op: 1 } },
    { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 3, args: { pt_id: 2 } },
    { op: 'VFIO_IOMMU_GET_INFO', fd: 4, args: { argsz: 24 } },
  ];
  const iovaPgsizes = (kernel: string) => {
    const ran = runTrace(compatInfo, on(kernel, { devices: [{ name: 'm0', kind: 'mock', cdev: 0 }], vfio: { container: 'iommufd' } }));
    expect(errnos(ran)).toEqual(Array(compatInfo.length).fill('ok'));
    return ran.at(-1)?.out['iova_pgsizes'];
  };

  // iommufd_get_pagesizes() folds the 2 KiB granule into PAGE_SIZE; the sizes above it are the table's.
  it('VFIO_IOMMU_GET_INFO through the compat container: PAGE_SIZE alone before 6.19, every size up to 2^37 from 6.19', () => {
    expect(iovaPgsizes('6.18')).toBe(0x1000n);
    expect(iovaPgsizes('6.19')).toBe(0x3ffffff000n);
  });
});
