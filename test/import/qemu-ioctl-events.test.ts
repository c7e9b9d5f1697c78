/**
 * The trace events and messages of QEMU's that record an ioctl's result beyond the maps and
 * attaches: dirty tracking, cache invalidation, vIOMMU objects, and a SPAPR TCE container's
 * windows and memory preregistration (which also say the host is POWER). Each line is built
 * from the QEMU format string quoted beside it.
 */
import { describe, expect, it } from 'vitest';
import { Replayer } from '../../replay/replayer.ts';
import { captureFile, imported } from './capture-files.ts';

const qemu = (...lines: string[]) => imported('qemu', lines);

describe('iommufd backend trace events', () => {
  it('iommufd_backend_get_dirty_bitmap: " iommufd=%d hwpt=%u iova=0x%"PRIx64" size=0x%"PRIx64" flags=0x%"PRIx64" page_size=0x%"PRIx64" (%d)", the last `ret ? errno : 0`', () => {
    const { events } = qemu(
      'iommufd_backend_get_dirty_bitmap  iommufd=27 hwpt=5 iova=0x100000 size=0x200000 flags=0x0 page_size=0x1000 (0)',
      'iommufd_backend_get_dirty_bitmap  iommufd=27 hwpt=5 iova=0x100000 size=0x200000 flags=0x1 page_size=0x1000 (22)',
    );
    expect(events.filter((e) => e['op'] === 'HWPT_GET_DIRTY_BITMAP')).toEqual([
      { source_line: 1, fd: 27, op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, iova: '0x100000', length: '0x200000', page_size: '0x1000' }, unknown_args: ['data'], expect: {} },
      { source_line: 2, fd: 27, op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, flags: 1, iova: '0x100000', length: '0x200000', page_size: '0x1000' }, unknown_args: ['data'], expect: { errno: 'EINVAL' } },
    ]);
  });
  it('its earlier format, before flags (" iommufd=%d hwpt=%u iova=0x%"PRIx64" size=0x%"PRIx64" page_size=0x%"PRIx64" (%d)"), reads too', () => {
    const { events, issues } = qemu('iommufd_backend_get_dirty_bitmap  iommufd=27 hwpt=5 iova=0x100000 size=0x200000 page_size=0x1000 (0)');
    expect(issues).toEqual([]);
    expect(events.at(-1)).toMatchObject({ op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, iova: '0x100000', length: '0x200000', page_size: '0x1000' }, expect: {} });
  });
  it('iommufd_backend_set_dirty, then error_setg_errno(errp, errno, "IOMMU_HWPT_SET_DIRTY_TRACKING(hwpt_id %u) failed"): one call, the trace\'s errno', () => {
    const { events, issues } = qemu(
      'iommufd_backend_set_dirty  iommufd=27 hwpt=5 enable=1 (95)',
      'qemu-system-x86_64: vfio 0000:00:02.0: IOMMU_HWPT_SET_DIRTY_TRACKING(hwpt_id 5) failed: Input/output error',
    );
    expect(issues).toEqual([]);
    expect(events.filter((e) => e['op'] === 'HWPT_SET_DIRTY_TRACKING')).toEqual([
      { source_line: 1, fd: 27, op: 'HWPT_SET_DIRTY_TRACKING', args: { hwpt_id: 5, flags: 1 }, expect: { errno: 'EOPNOTSUPP' } },
    ]);
  });
  it('iommufd_backend_invalidate_cache: " iommufd=%d id=%u data_type=%u entry_len=%u entry_num=%u done_num=%u data_ptr=0x%"PRIx64" (%d)"; the entries are not printed', () => {
    const { events } = qemu('iommufd_backend_invalidate_cache  iommufd=27 id=6 data_type=1 entry_len=32 entry_num=2 done_num=2 data_ptr=0x7f1234560000 (0)');
    expect(events.at(-1)).toEqual({
      source_line: 1,
      fd: 27,
      op: 'HWPT_INVALIDATE',
      args: { hwpt_id: 6, data_type: 1, entry_len: 32, entry_num: 2 },
      unknown_args: ['data_uptr'],
      expect: { out: { entry_num: 2 } },
    });
  });
  it('iommufd_backend_alloc_viommu prints dev_id after "type=" (" iommufd=%d type=%u dev_id=%u hwpt_id=%u viommu_id=%u (%d)", called with dev_id first): read by position', () => {
    const { events } = qemu(
      'iommufd_backend_alloc_viommu  iommufd=27 type=3 dev_id=1 hwpt_id=6 viommu_id=7 (0)',
      'iommufd_backend_alloc_vdev  iommufd=27 dev_id=3 viommu_id=7 virt_id=0x100 vdev_id=8 (0)',
    );
    expect(events.filter((e) => e['fd'] === 27).map((e) => [e['op'], e['args'], e['expect']])).toEqual([
      ['VIOMMU_ALLOC', { type: 1, dev_id: 3, hwpt_id: 6 }, { out: { out_viommu_id: 7 } }],
      ['VDEVICE_ALLOC', { viommu_id: 7, dev_id: 3, virt_id: '0x100' }, { out: { out_vdevice_id: 8 } }],
    ]);
  });
  it('error_setg_errno(errp, errno, "IOMMU_VIOMMU_ALLOC failed") with no trace line: the call on the backend fd, its arguments unknown', () => {
    const { events } = qemu('qemu-system-aarch64: -device vfio-pci,host=0000:75:00.1,iommufd=iommufd0: vfio 0000:75:00.1: IOMMU_VIOMMU_ALLOC failed: Operation not supported');
    expect(events.at(-1)).toMatchObject({ op: 'VIOMMU_ALLOC', unknown_args: true, expect: { errno: 'EOPNOTSUPP' } });
  });
  it('"IOMMU_HWPT_INVALIDATE failed: total %d entries, processed %d entries" after its trace line gives the errno that the raw return, as the version first posted printed it, does not', () => {
    const { events } = qemu(
      'iommufd_backend_invalidate_cache  iommufd=27 id=6 data_type=1 entry_len=32 entry_num=2 done_num=1 data_ptr=0x7f1234560000 (-1)',
      'qemu-system-x86_64: IOMMU_HWPT_INVALIDATE failed: total 2 entries, processed 1 entries: Invalid argument',
    );
    expect(events.filter((e) => e['op'] === 'HWPT_INVALIDATE').map((e) => e['expect'])).toEqual([{ errno: 'EINVAL' }]);
  });
});

describe('a cdev\'s attach and detach failures (hw/vfio/iommufd.c)', () => {
  it('error_setg_errno(errp, errno, "[iommufd=%d] error attach %s (%d) to id=%d", ...): the attach on that device fd, its pt_id', () => {
    const { events, issues } = qemu(
      'iommufd_cdev_getfd  /dev/vfio/devices/vfio0 (fd=5)',
      'iommufd_cdev_connect_and_bind  [iommufd=3] Successfully bound device 0000:00:02.0 (fd=5): output devid=1',
      'qemu-system-x86_64: -device vfio-pci,host=0000:00:02.0,iommufd=iommufd0: vfio 0000:00:02.0: [iommufd=3] error attach 0000:00:02.0 (5) to id=2: Invalid argument',
    );
    expect(issues).toEqual([]);
    expect(events.at(-1)).toEqual({ source_line: 3, fd: 5, op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { pt_id: 2 }, expect: { errno: 'EINVAL' } });
  });
  it('iommufd_cdev_fail_attach_existing_container (" %s"): the message it prints is the failed attach\'s; "detach %s failed" likewise', () => {
    const { events } = qemu(
      'iommufd_cdev_fail_attach_existing_container  [iommufd=3] error attach 0000:00:02.0 (5) to id=2: Device or resource busy',
      'qemu-system-x86_64: detach 0000:00:02.0 failed: No such device',
    );
    expect(events.map((e) => [e['op'], e['args'], e['expect']])).toEqual([
      ['VFIO_DEVICE_ATTACH_IOMMUFD_PT', { dev: '0000:00:02.0', pt_id: 2 }, { errno: 'EBUSY' }],
      ['VFIO_DEVICE_DETACH_IOMMUFD_PT', { dev: '0000:00:02.0' }, { errno: 'ENODEV' }],
    ]);
  });
});

describe('a legacy container\'s dirty tracking (hw/vfio/container.c)', () => {
  it('error_setg_errno(errp, errno, "Failed to set dirty tracking flag 0x%x") and "Failed to get dirty bitmap for iova: 0x%"PRIx64" size: 0x%"PRIx64', () => {
    const { events, issues } = qemu(
      'qemu-system-x86_64: vfio: Could not start dirty tracking: Failed to set dirty tracking flag 0x1: Invalid argument',
      'qemu-system-x86_64: Failed to get dirty bitmap for iova: 0x100000 size: 0x200000: Bad address',
    );
    expect(issues).toEqual([]);
    expect(events.filter((e) => e['op'] === 'VFIO_IOMMU_DIRTY_PAGES').map((e) => [e['unknown_args'], e['expect']])).toEqual([
      [true, { errno: 'EINVAL' }],
      [true, { errno: 'EFAULT' }],
    ]);
  });
});

describe('a SPAPR TCE container (hw/vfio/spapr.c): its host is POWER', () => {
  const LOG = [
    // "va=0x%"PRIx64" size=0x%"PRIx64" ret=%d", with `ret ? -errno : 0`.
    'vfio_prereg_register va=0x7fff80000000 size=0x40000000 ret=0',
    // "offset=0x%"PRIx64", printed once VFIO_IOMMU_SPAPR_TCE_REMOVE succeeded.
    'vfio_spapr_remove_window offset=0x0',
    // "pageshift=0x%x levels=%u winsize=0x%"PRIx64" offset=0x%"PRIx64", offset being the start_addr written back.
    'vfio_spapr_create_window pageshift=0x10 levels=1 winsize=0x40000000 offset=0x0',
    'vfio_spapr_create_window pageshift=0x18 levels=2 winsize=0x10000000000 offset=0x800000000000000',
    'vfio_prereg_unregister va=0x7fff80000000 size=0x40000000 ret=0',
  ];
  it('its windows and preregistrations are calls; the stand-in group is a spapr one, inferred, on a SPAPR_TCE_v2 container; all replay ok', () => {
    const { header, events, trace } = qemu(...LOG);
    expect(header.env.devices.map((d) => [d.kind, d.params['inferred']])).toEqual([['spapr', true]]);
    expect(events.find((e) => e['op'] === 'VFIO_SET_IOMMU')?.['args']).toEqual({ arg: 7 });
    expect(events.filter((e) => e['expect'] !== undefined && e['inferred'] !== true).map((e) => [e['op'], e['expect']])).toEqual([
      ['VFIO_IOMMU_SPAPR_REGISTER_MEMORY', {}],
      ['VFIO_IOMMU_SPAPR_TCE_REMOVE', {}],
      ['VFIO_IOMMU_SPAPR_TCE_CREATE', { out: { start_addr: 0 } }],
      ['VFIO_IOMMU_SPAPR_TCE_CREATE', { out: { start_addr: '0x800000000000000' } }],
      ['VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', {}],
    ]);
    const r = new Replayer(trace.header, { ownChoices: false });
    for (const e of trace.events) r.feed(e);
    expect(r.counts).toMatchObject({ ok: 7, diverged: 0 });
  });
  it('a --header device of another kind wins over the inference', () => {
    const header = captureFile([JSON.stringify({ env: { devices: [{ name: 'nic', kind: 'vtd', group: 5 }] } })], 'power-header.json');
    const got = imported('qemu', LOG, { header });
    expect(got.header.env.devices.map((d) => [d.name, d.kind, d.params['inferred']])).toEqual([['nic', 'vtd', undefined]]);
  });
  it('error_report("Failed to create a window, ret = %d (%m)", ret) alone says so too', () => {
    const { header, events } = qemu('qemu-system-ppc64: Failed to create a window, ret = -1 (Device or resource busy)');
    expect(header.env.devices.map((d) => d.kind)).toEqual(['spapr']);
    expect(events.at(-1)).toMatchObject({ op: 'VFIO_IOMMU_SPAPR_TCE_CREATE', unknown_args: true, expect: { errno: 'EBUSY' } });
  });
});
