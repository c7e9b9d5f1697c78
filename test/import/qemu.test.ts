/**
 * `import qemu`: trace events read by their trace-events formats, error_report() messages by
 * their text, the lines of one ioctl joined into one event, and what a mid-run log lacks added.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, imported } from './capture-files.ts';

const qemu = (...lines: string[]) => imported('qemu', lines);
const ops = (events: readonly Record<string, unknown>[]) => events.map((e) => e['op']);

describe('trace events', () => {
  it('a cdev life cycle: opens with the fds printed, bind and attach on the cdev fd, the twin alloc_ioas dropped', () => {
    const { header, events, issues } = qemu(
      'iommufd_cdev_getfd  /dev/vfio/devices/vfio4 (fd=28)',
      'iommufd_backend_connect fd=27 owned=1 users=1',
      'iommufd_cdev_connect_and_bind  [iommufd=27] Successfully bound device d0 (fd=28): output devid=1',
      'iommufd_backend_alloc_ioas  iommufd=27 ioas=2',
      'iommufd_cdev_alloc_ioas  [iommufd=27] new IOMMUFD container with ioasid=2',
      'iommufd_cdev_attach_ioas_hwpt  [iommufd=27] Successfully attached device d0 (28) to id=2',
      'iommufd_backend_map_dma  iommufd=27 ioas=2 iova=0x0 size=0x1000 addr=0x7f0000000000 readonly=1 (0)',
      'iommufd_cdev_detach_ioas_hwpt  [iommufd=27] Successfully detached d0',
      'iommufd_backend_unmap_dma_non_exist  Unmap nonexistent mapping: iommufd=27 ioas=2 iova=0x0 size=0x2000 (-1)',
      'iommufd_backend_free_id  iommufd=27 id=2 (0)',
      'iommufd_backend_disconnect fd=-1 users=0',
    );
    expect(issues).toEqual([]);
    expect(header.env.devices.map((d) => [d.name, d.kind, d.params['cdev']])).toEqual([['d0', 'unknown', 4n]]);
    expect(events).toEqual([
      { source_line: 1, op: 'OPEN', args: { path: '/dev/vfio/devices/vfio4' }, expect: { out: { fd: 28 } } },
      { source_line: 2, op: 'OPEN', args: { path: '/dev/iommu' }, expect: { out: { fd: 27 } } },
      { source_line: 3, fd: 28, op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { iommufd: 27 }, expect: { out: { out_devid: 1 } } },
      { source_line: 4, fd: 27, op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 2 } } },
      // The trace prints the pt_id passed in, not the HWPT written back: success only.
      { source_line: 6, fd: 28, op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { pt_id: 2 }, expect: {} },
      { source_line: 7, fd: 27, op: 'IOAS_MAP', args: { flags: 5, ioas_id: 2, user_va: '0x7f0000000000', length: '0x1000' }, expect: {} },
      { source_line: 8, fd: 28, op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', expect: {} },
      { source_line: 9, fd: 27, op: 'IOAS_UNMAP', args: { ioas_id: 2, length: '0x2000' }, expect: { errno: 'ENOENT' } },
      { source_line: 10, fd: 27, op: 'DESTROY', args: { id: 2 }, expect: {} },
      { source_line: 11, op: 'CLOSE', args: { fd: 27 } },
    ]);
  });
  it('a mediated device is kind emulated (vfio_mdev is_mdev 1, or an mdev sysfs path)', () => {
    const { header } = qemu(
      'vfio_mdev  (m0) is_mdev 1',
      'iommufd_cdev_connect_and_bind  [iommufd=3] Successfully bound device m0 (fd=5): output devid=1',
      'qemu-kvm: -device vfio-ap,sysfsdev=/sys/bus/mdev/devices/m1: vfio m1: Failed to get hardware info: No such file or directory',
    );
    expect(header.env.devices.map((d) => [d.name, d.kind])).toEqual([
      ['m0', 'emulated'],
      ['m1', 'emulated'],
    ]);
  });
  it('the log and syslog backends, a -msg timestamp and the older tid@time prefix read alike', () => {
    const line = 'iommufd_backend_free_id  iommufd=3 id=2 (0)';
    for (const prefixed of [line, `2025-03-01T12:00:00.123456Z ${line}`, `1234@1700000000.123456:${line}`, `янв 13 18:17:24 VM qemu-system-x86_64[7131]: ${line}`]) {
      expect(qemu(prefixed).events.at(-1)).toMatchObject({ op: 'DESTROY', args: { id: 2 }, expect: {} });
    }
  });
  it('an event not in the vendored trace-events, or not in its format, is an unread line', () => {
    const { issues } = qemu(
      'iommufd_backend_alloc_veventq  iommufd=3 viommu=4 type=1 depth=64 veventq_id=5 veventq_fd=6 (0)',
      'iommufd_backend_free_id  iommufd=3 id=x (0)',
      'iommufd_backend_free_id  iommufd=3 id=2 (0)',
    );
    expect(issues).toEqual([
      { line: 1, reason: 'iommufd_backend_alloc_veventq: not an event of the vendored QEMU trace-events files' },
      { line: 2, reason: 'iommufd_backend_free_id: does not read by its format " iommufd=%d id=%d (%d)" (another QEMU version?)' },
    ]);
  });
});

describe('dma-bufs of a development branch (vfio_region_dmabuf)', () => {
  it('each BAR exported is a VFIO_DEVICE_FEATURE of DMA_BUF, its mmaps the ranges, its fd the one IOAS_MAP_FILE maps', () => {
    const { events, issues } = qemu(
      'vfio_region_dmabuf Device 0008:01:00.0, region "0008:01:00.0 BAR 0", offset: 0x0, size: 0x40000',
      'vfio_region_dmabuf Device 0008:01:00.0, region "0008:01:00.0 BAR 0", offset: 0x80000, size: 0x80000',
      'vfio_region_dmabuf Device 0008:01:00.0, region "0008:01:00.0 BAR 2", offset: 0x0, size: 0x100000',
      'iommufd_backend_map_file_dma  iommufd=3 ioas=2 iova=0x100000 size=0x40000 fd=9 start=0 readonly=0 (0)',
      'iommufd_backend_map_file_dma  iommufd=3 ioas=2 iova=0x200000 size=0x100000 fd=8 start=0 readonly=0 (0)',
    );
    expect(issues).toEqual([]);
    expect(ops(events)).toEqual(['OPEN', 'VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_FEATURE', 'VFIO_DEVICE_FEATURE', 'IOAS_ALLOC', 'IOAS_MAP_FILE', 'IOAS_MAP_FILE']);
    // QEMU asks with GET | DMA_BUF (0x10000 | 11) and O_RDWR; the fds come in order, lowest first.
    expect(events.filter((e) => e['op'] === 'VFIO_DEVICE_FEATURE').map((e) => [e['args'], e['expect'], e['inferred']])).toEqual([
      [{ dev: '0008:01:00.0', flags: 65536, feature: 11, region_index: 0, open_flags: 2, ranges: [{ offset: 0, length: '0x40000' }, { offset: '0x80000', length: '0x80000' }] }, { out: { ret: 8 } }, true],
      [{ dev: '0008:01:00.0', flags: 65536, feature: 11, region_index: 2, open_flags: 2, ranges: [{ offset: 0, length: '0x100000' }] }, { out: { ret: 9 } }, true],
    ]);
    expect(events[1]).toMatchObject({ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { iommufd: 3, dev: '0008:01:00.0' } });
  });
});

describe('a failure over several lines is one event', () => {
  it('(-1), the issuer\'s text, the caller\'s number: the number wins', () => {
    const { events } = qemu(
      '   iommufd_backend_map_dma  iommufd=10 ioas=2 iova=0x380000001000 size=0x3000 addr=0x7fce2c28b000 readonly=0 (-1)',
      '   qemu-system-x86_64: IOMMU_IOAS_MAP failed: Invalid argument',
      '   qemu-system-x86_64: vfio_container_dma_map(0x55a21b03a150, 0x380000001000, 0x3000, 0x7fce2c28b000) = -22 (Invalid argument)',
    );
    expect(events.filter((e) => e['note'] === undefined)).toEqual([
      { source_line: 1, fd: 10, op: 'IOAS_MAP', args: { flags: 7, ioas_id: 2, user_va: '0x7fce2c28b000', length: '0x3000', iova: '0x380000001000' }, expect: { errno: 'EINVAL' } },
    ]);
    const mismatched = qemu('2021-05-05T09:38:16.158864Z qemu-system-x86_64: vfio_dma_map(0x557b8fd281b0, 0xc0000, 0x1000, 0x7f66406c0000) = -22 (Resource temporarily unavailable)');
    expect(mismatched.events.at(-1)?.['expect']).toEqual({ errno: 'EINVAL' });
  });
  it('a raw failure no line explains is errno "*"', () => {
    expect(qemu('iommufd_backend_free_id  iommufd=3 id=2 (-1)').events.at(-1)?.['expect']).toEqual({ errno: '*' });
  });
  it('a legacy VFIO_MAP_DMA failure takes its arguments from its caller; the write bit QEMU does not print is args_one_of', () => {
    const { events } = qemu(
      'qemu-system-x86_64: -device {"driver":"vfio-pci","host":"0000:0b:00.0"}: VFIO_MAP_DMA failed: Cannot allocate memory',
      'qemu-system-x86_64: -device vfio-pci,host=0000:0b:00.0: vfio 0000:0b:00.0: failed to setup container for group 25: memory listener initialization failed: Region pc.ram: vfio_dma_map(0x5b4411be9ab0, 0x100000000, 0x80000000, 0x79022fe00000) = -12 (Cannot allocate memory)',
    );
    expect(ops(events)).toEqual(['OPEN', 'OPEN', 'VFIO_GROUP_SET_CONTAINER', 'VFIO_SET_IOMMU', 'VFIO_IOMMU_MAP_DMA']);
    expect(events[1]).toMatchObject({ op: 'OPEN', args: { path: '/dev/vfio/25' }, inferred: true });
    expect(events[4]).toEqual({
      source_line: 1,
      fd: 3,
      op: 'VFIO_IOMMU_MAP_DMA',
      args: { vaddr: '0x79022fe00000', iova: '0x100000000', size: '0x80000000' },
      args_one_of: { flags: [3, 1] },
      expect: { errno: 'ENOMEM' },
    });
  });
  it('a failure no caller line follows has unknown arguments', () => {
    const { events } = qemu('qemu-system-x86_64: VFIO_MAP_DMA failed: Cannot allocate memory');
    expect(events.at(-1)).toMatchObject({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: { errno: 'ENOMEM' } });
  });
  it("QEMU's own VFIO user: its container, READ | WRITE, the IOVA of its allocator unknown", () => {
    const { events } = qemu('qemu-system-aarch64: qemu_vfio_dma_map(0xfffd97e00000, 67108864) failed: VFIO_MAP_DMA failed: Cannot allocate memory');
    expect(events.find((e) => e['op'] === 'VFIO_SET_IOMMU')?.['args']).toEqual({ arg: 1 });
    expect(events.at(-1)).toMatchObject({ args: { flags: 3, vaddr: '0xfffd97e00000', size: '0x4000000' }, unknown_args: ['iova'], expect: { errno: 'ENOMEM' } });
  });
  it("a GET_HW_INFO failure goes where QEMU made the call: after the device's attach", () => {
    const { events } = qemu(
      'iommufd_cdev_connect_and_bind  [iommufd=3] Successfully bound device d0 (fd=5): output devid=1',
      'iommufd_cdev_device_info  d0 (5) num_irqs=1 num_regions=0 flags=33',
      'iommufd_cdev_detach_ioas_hwpt  [iommufd=3] Successfully detached d0',
      'qemu-kvm: vfio d0: Failed to get hardware info: No such file or directory',
    );
    expect(ops(events)).toEqual(['OPEN', 'VFIO_DEVICE_BIND_IOMMUFD', 'GET_HW_INFO', 'VFIO_DEVICE_DETACH_IOMMUFD_PT']);
    expect(events[2]).toEqual({ source_line: 4, fd: 3, op: 'GET_HW_INFO', args: { dev_id: 1 }, unknown_args: ['data_len', 'data_uptr'], expect: { errno: 'ENOENT' } });
  });
});

describe('a log that starts mid-run', () => {
  it('gets the opens and IOAS it names, with inferred free choices and a note', () => {
    const { events } = qemu('IOMMU_IOAS_UNMAP failed: No such file or directory', 'vfio_container_dma_unmap(0x562012d6b6d0, 0x0, 0x80000000) = -2 (No such file or directory)');
    expect(events).toEqual([
      { source_line: 1, op: 'OPEN', args: { path: '/dev/iommu' }, expect: { out: { fd: 3 } }, inferred: true, note: 'added: the log does not show this /dev/iommu fd being opened' },
      { source_line: 1, fd: 3, op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 1 } }, inferred: true, note: 'added: the log does not show this IOAS being allocated' },
      { source_line: 1, fd: 3, op: 'IOAS_UNMAP', args: { ioas_id: 1, length: '0x80000000' }, expect: { errno: 'ENOENT' } },
    ]);
  });
  it('a stand-in id avoids every id the log names', () => {
    const { events } = qemu('qemu: Failed to free id: 1 Device or resource busy', 'qemu: IOMMU_IOAS_UNMAP failed: No such file or directory', 'qemu: vfio_dma_unmap(0xaa, 0x0, 0x1000) = -2');
    expect(events.find((e) => e['op'] === 'IOAS_ALLOC')?.['expect']).toEqual({ out: { out_ioas_id: 2 } });
  });
});

describe('lines that are not read', () => {
  it('are listed with their line; a monitor command is read and left out', () => {
    const { issues, header } = qemu('(qemu) device_del net1', '[debug:fn:126] 0x55d4bdd62ef0', 'qemu-system-x86_64: Failed to free id: 4 Inappropriate ioctl for device');
    expect(issues).toEqual([{ line: 2, reason: 'a message the importer does not read: "[debug:fn:126] 0x55d4bdd62ef0"' }]);
    expect(header.extra['note']).toBe('Capture lines not imported: 1: the monitor command "device_del net1".');
  });
  it('a file with no line QEMU prints is refused', () => {
    expect(errorOf(() => qemu('hello', 'world'))).toMatch(/: not a QEMU log \(trace events or VFIO\/iommufd messages\): no line of it reads as one$/);
  });
  it('a kernel-side log is refused: there is no QEMU log to join it to', () => {
    expect(errorOf(() => qemu('        CPU 0/KVM-3046  [051] .... 63113.338894: map: IOMMU: iova=0x00000000f8000000 paddr=0x00000000fa000000 size=24576'))).toMatch(
      /: an ftrace log \(\/sys\/kernel\/debug\/tracing\/trace\): the kernel side of a run, with no QEMU log to join it to; import the QEMU log with --join capture-\d+\.txt$/,
    );
    expect(errorOf(() => qemu('[ 1042.662165] iopt_unmap_iova 338 iova: ff000000, length: 1000000'))).toMatch(/: a kernel log \(dmesg\): the kernel side/);
  });
});
