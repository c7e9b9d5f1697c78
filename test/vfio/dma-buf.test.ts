/**
 * VFIO_DEVICE_FEATURE of VFIO_DEVICE_FEATURE_DMA_BUF (drivers/vfio/vfio_main.c:
 * `vfio_ioctl_device_feature()`; drivers/vfio/pci/vfio_pci_dmabuf.c:
 * `vfio_pci_core_feature_dma_buf()`, `vfio_pci_dma_buf_cleanup()`) and the dma-buf it returns
 * mapped by IOMMU_IOAS_MAP_FILE (drivers/iommu/iommufd/pages.c: `iopt_map_dmabuf()`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { Replayer } from '../../replay/replayer.ts';
import { checkWorld } from '../../src/invariants/invariants.ts';
import { type Ran, errnos, runTrace } from '../harness.ts';

/** A GPU with a 64 MiB BAR 0, no BAR 1 and a 4 GiB BAR 2; an mdev; uid 1000 with 1 MiB of memlock. */
const HOST = {
  trace: 'iommufd',
  version: '1.1',
  env: {
    memory: 'any',
    processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x100000', caps: [] }],
    devices: [
      { name: 'gpu', kind: 'smmu', cdev: 0, group: 5, bars: ['0x4000000', 0, '0x100000000'] },
      { name: 'ap', kind: 'emulated', cdev: 1, group: 6 },
    ],
  },
};
const run = (events: readonly object[], header: object = HOST) => runTrace(events, header);
const checks = (ran: readonly (Ran | undefined)[]): (string | undefined)[] => ran.map((r) => r?.outcome.result?.check ?? r?.errno);

/** The GPU's cdev as fd 3, /dev/iommu as fd 4, the GPU bound (device 1) and attached to IOAS 2. */
const BOUND = [
  { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio0' } },
  { op: 'OPEN' },
  { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } },
  { op: 'IOAS_ALLOC', fd: 4 },
  { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 3, args: { pt_id: 2 } },
];
const feature = (args: object, fd = 3) => ({ op: 'VFIO_DEVICE_FEATURE', fd, args: { feature: 'DMA_BUF', flags: ['GET'], region_index: 0, open_flags: ['RDWR'], ...args } });
const range = (offset: string | number, length: string | number) => ({ offset, length });
const BAR0 = feature({ ranges: [range(0, '0x4000000')] });
const mapFile = (fd: number, length: string, iova: string) => ({
  op: 'IOAS_MAP_FILE',
  fd: 4,
  args: { ioas_id: 2, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], fd, start: 0, length, iova },
});

describe('vfio_ioctl_device_feature', () => {
  it('a device not bound is EINVAL (vfio_device_fops_unl_ioctl: no access granted yet)', () => {
    const ran = run([BOUND[0] as object, BAR0]);
    expect(ran[1]?.errno).toBe('EINVAL');
  });
  it('returns a new fd, the dma-buf of the BAR', () => {
    const ran = run([...BOUND, BAR0]);
    expect(ran[5]?.outcome.result?.ret).toBe(5n);
    const file = [...(ran[5]?.outcome.world.files.values() ?? [])].find((f) => f.kind === 'dmabuf');
    expect(file).toMatchObject({ kind: 'dmabuf', size: 0x4000000n, exporter: { kind: 'vfio', device: 0 }, ranges: 1, revoked: false });
  });
  it('argsz below the header, unknown flags, GET and SET together are EINVAL before the driver is asked', () => {
    const ran = run([...BOUND, feature({ argsz: 4 }), feature({ flags: 0x90000 }), feature({ flags: ['GET', 'SET'] })]);
    expect(checks(ran.slice(5))).toEqual([
      'EINVAL vfio_ioctl_device_feature: argsz below minsz',
      'EINVAL vfio_ioctl_device_feature: flags has unknown bits',
      'EINVAL vfio_ioctl_device_feature: GET and SET without PROBE',
    ]);
  });
  it('an mdev driver has no device_feature op: ENOTTY', () => {
    const ran = run([{ op: 'OPEN', args: { path: '/dev/vfio/devices/vfio1' } }, { op: 'OPEN' }, { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } }, BAR0]);
    expect(checks([ran[3]])).toEqual(['ENOTTY vfio_ioctl_device_feature: the driver has no device_feature op']);
  });
});

describe('vfio_pci_core_feature_dma_buf', () => {
  it('vfio_check_feature: PROBE of GET is 0, SET EINVAL, neither EINVAL, argsz short of the struct EINVAL', () => {
    const ran = run([...BOUND, feature({ flags: ['PROBE', 'GET'] }), feature({ flags: ['SET'], ranges: [range(0, '0x1000')] }), feature({ flags: [], ranges: [range(0, '0x1000')] }), feature({ argsz: 16, ranges: [range(0, '0x1000')] })]);
    expect(checks(ran.slice(5))).toEqual([
      'ok',
      'EINVAL vfio_check_feature: SET of a GET-only feature',
      'EINVAL vfio_check_feature: neither GET nor SET',
      'EINVAL vfio_check_feature: argsz below the feature struct',
    ]);
    expect(ran[5]?.outcome.world).toBe(ran[5]?.before);
  });
  it('no ranges or flags set is EINVAL; a region past the BARs (the ROM is 6) ENODEV', () => {
    const ran = run([...BOUND, feature({ ranges: [] }), feature({ dma_buf_flags: 1, ranges: [range(0, '0x1000')] }), feature({ region_index: 6, ranges: [range(0, '0x1000')] })]);
    expect(checks(ran.slice(5))).toEqual([
      'EINVAL vfio_pci_core_feature_dma_buf: no ranges, or flags set',
      'EINVAL vfio_pci_core_feature_dma_buf: no ranges, or flags set',
      'ENODEV vfio_pci_core_feature_dma_buf: region_index is not a BAR',
    ]);
  });
  it('validate_dmabuf_input: an empty or unaligned range is EINVAL', () => {
    const ran = run([...BOUND, feature({ ranges: [range(0, 0)] }), feature({ ranges: [range('0x800', '0x1000')] }), feature({ ranges: [range(0, '0x1800')] })]);
    expect(errnos(ran.slice(5))).toEqual(['EINVAL', 'EINVAL', 'EINVAL']);
  });
  it('a BAR with no memory has no provider, a range past the BAR does not fit: EINVAL', () => {
    const ran = run([...BOUND, feature({ region_index: 1, ranges: [range(0, '0x1000')] }), feature({ ranges: [range('0x3fff000', '0x2000')] })]);
    expect(checks(ran.slice(5))).toEqual([
      'EINVAL pcim_p2pdma_provider: the BAR has no memory',
      'EINVAL vfio_pci_core_fill_phys_vec: a range ends past the BAR',
    ]);
  });
  it('nr_ranges more than the ranges given faults copying them (EFAULT)', () => {
    const ran = run([...BOUND, feature({ nr_ranges: 2, ranges: [range(0, '0x1000')] })]);
    expect(ran[5]?.errno).toBe('EFAULT');
  });
  it('without header bars, any BAR and range fits', () => {
    const header = { ...HOST, env: { ...HOST.env, devices: [{ name: 'gpu', kind: 'smmu', cdev: 0, group: 5 }] } };
    const ran = run([...BOUND, feature({ region_index: 5, ranges: [range(0, '0x100000000000')] })], header);
    expect(ran[5]?.outcome.result?.ret).toBe(5n);
  });
});

describe('the dma-buf mapped (iopt_map_dmabuf)', () => {
  it('64 MiB of BAR maps past a 1 MiB limit and charges nothing', () => {
    const ran = run([...BOUND, BAR0, mapFile(5, '0x4000000', '0x80000000')]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const world = ran[6]?.outcome.world;
    expect([world?.processes.get(1)?.pinnedVm, world?.userLockedVm.get(1000) ?? 0n]).toEqual([0n, 0n]);
    for (const r of ran) expect(checkWorld(r.outcome.world)).toEqual([]);
  });
  it('a dma-buf of more than one range is EOPNOTSUPP', () => {
    const ran = run([...BOUND, feature({ region_index: 2, ranges: [range(0, '0x1000'), range('0x10000', '0x1000')] }), mapFile(5, '0x1000', '0x80000000')]);
    expect(checks([ran[6]])).toEqual(['EOPNOTSUPP vfio_pci_dma_buf_iommufd_map: more than one range']);
  });
  it('closing the device revokes its dma-bufs for good (vfio_pci_dma_buf_cleanup): new maps are ENODEV, the old area unmaps', () => {
    const ran = run([
      ...BOUND,
      BAR0,
      mapFile(5, '0x4000000', '0x80000000'),
      { op: 'CLOSE', args: { fd: 3 } },
      mapFile(5, '0x4000000', '0x90000000'),
      { op: 'IOAS_UNMAP', fd: 4, args: { ioas_id: 2, iova: 0, length: 'U64_MAX' } },
      { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio0' } },
      { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } },
      { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 3, args: { pt_id: 2 } },
      mapFile(5, '0x4000000', '0x90000000'),
    ]);
    expect(checks(ran.slice(7))).toEqual(['ok', 'ENODEV iopt_map_dmabuf: the dma-buf is revoked', 'ok', 'ok', 'ok', 'ok', 'ENODEV iopt_map_dmabuf: the dma-buf is revoked']);
    expect(ran[9]?.out).toEqual({ length: 0x4000000n });
  });
  it("the selftest's revoke is not VFIO's: EOPNOTSUPP", () => {
    const ran = run([...BOUND, BAR0, { op: 'TEST_DMABUF_REVOKE', fd: 4, args: { dmabuf_fd: 5, revoked: 1 } }]);
    expect(checks([ran[6]])).toEqual(["EOPNOTSUPP iommufd_test_dmabuf_revoke: not the selftest's dma-buf"]);
  });
});

describe('bad input is malformed, with its one-line error', () => {
  it('a range with an unknown field, or ranges not a list', () => {
    expect(() => run([...BOUND, feature({ ranges: [{ offset: 0, length: '0x1000', size: 1 }] })])).toThrow(/ranges\[0\]/);
    expect(() => run([...BOUND, feature({ ranges: { offset: 0 } })])).toThrow(/ranges/);
  });
  it('a feature the model does not have, by name or number, is unsupported', () => {
    const ran = run([...BOUND, { op: 'VFIO_DEVICE_FEATURE', fd: 3, args: { feature: 'MIGRATION', flags: ['GET'] } }, { op: 'VFIO_DEVICE_FEATURE', fd: 3, args: { flags: 0x10000 | 99 } }]);
    expect(errnos(ran.slice(5))).toEqual(['unsupported', 'unsupported']);
  });
  it('header bars: at most six, each a size', () => {
    const header = (bars: unknown) => () => run([], { ...HOST, env: { ...HOST.env, devices: [{ name: 'gpu', kind: 'smmu', cdev: 0, bars }] } });
    expect(header(['0x1000', 0, 0, 0, 0, 0, 0])).toThrow(/bars/);
    expect(header(['big'])).toThrow(/bars/);
  });
});

describe('the bundled example (examples/mdev-gpu-dmabuf.jsonl)', () => {
  it('replays clean with the invariants, its choices adopted or compared', () => {
    const file = resolve(import.meta.dirname, '../../examples/mdev-gpu-dmabuf.jsonl');
    const trace = parseTraceText(readFileSync(file, 'utf8'), file);
    for (const ownChoices of [false, true]) {
      const r = new Replayer(trace.header, { ownChoices, invariants: true });
      for (const event of trace.events) r.feed(event);
      expect(r.counts).toMatchObject({ events: 30, ok: 29, ran: 1, diverged: 0, unsupported: 0 });
      expect([r.divergences, r.violations]).toEqual([[], []]);
    }
  });
});
