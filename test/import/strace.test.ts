/**
 * `import strace`: ioctls with their op, fd and result, arguments unknown but for the integer
 * ones; "A or B" names resolved by what the fd is; split calls joined; strace's prefixes read.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, imported } from './capture-files.ts';

const strace = (...lines: string[]) => imported('strace', lines);

describe('ioctls', () => {
  it('-r -T: an fd opened in the capture decides "A or B"; struct arguments are unknown', () => {
    const { events, issues } = strace(
      '0.000041 openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR|O_CLOEXEC) = 32 <0.000019>',
      '0.000058 ioctl(32, VFIO_DEVICE_PCI_HOT_RESET or VFIO_IOMMU_MAP_DMA, 0x7ffd774f7f20) = 0 <0.000037>',
      '0.000060 ioctl(32, VFIO_DEVICE_PCI_HOT_RESET or VFIO_IOMMU_MAP_DMA <unfinished ...>',
      '45.903415 <... ioctl resumed> , 0x7ffd774f7f20) = -1 ENOMEM (Cannot allocate memory) <55.558237>',
    );
    expect(issues).toEqual([]);
    expect(events).toEqual([
      { source_line: 1, op: 'OPEN', args: { path: '/dev/vfio/vfio' }, expect: { out: { fd: 32 } } },
      { source_line: 2, fd: 32, op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: {} },
      { source_line: 3, fd: 32, op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: { errno: 'ENOMEM' } },
    ]);
  });
  it('the integer argument of VFIO_SET_IOMMU and VFIO_CHECK_EXTENSION is known; a positive return is ret', () => {
    const { events } = strace('openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR) = 3', 'ioctl(3, VFIO_CHECK_EXTENSION, 0x3) = 1', 'ioctl(3, VFIO_GET_API_VERSION, 0) = 0');
    expect(events.slice(1)).toEqual([
      { source_line: 2, fd: 3, op: 'VFIO_CHECK_EXTENSION', args: { arg: 3 }, expect: { out: { ret: 1 } } },
      { source_line: 3, fd: 3, op: 'VFIO_GET_API_VERSION', expect: {} },
    ]);
  });
  it('-f, -tt and -yy: pids kept as tid, the fd path decides; -X raw and -X verbose by number', () => {
    const { events } = strace(
      '[pid  7131] 18:17:24.123456 ioctl(25</dev/iommu>, IOMMU_IOAS_MAP, 0x7ffd5c0e1b00) = 0',
      '7132  ioctl(25, 0x3b86, 0x7ffd5c0e1b00) = -1 ENOENT (No such file or directory)',
      'ioctl(25, 0x3b71 /* VFIO_DEVICE_PCI_HOT_RESET or VFIO_IOMMU_MAP_DMA */, 0x7ffd) = 0',
    );
    expect(events).toEqual([
      { source_line: 1, op: 'OPEN', args: { path: '/dev/iommu' }, expect: { out: { fd: 25 } }, inferred: true, note: 'added: the capture does not show fd 25 being opened; its ioctls make it an iommufd fd' },
      { source_line: 1, fd: 25, op: 'IOAS_MAP', unknown_args: true, expect: {}, tid: 7131 },
      { source_line: 2, fd: 25, op: 'IOAS_UNMAP', unknown_args: true, expect: { errno: 'ENOENT' }, tid: 7132 },
      // On an iommufd, 0x3b71 is the VFIO compatibility layer's MAP_DMA.
      { source_line: 3, fd: 25, op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: {} },
    ]);
  });
  it('an fd nothing in the capture explains: "A or B" by the only op the format has, marked unsure; its container gets a group in front', () => {
    const { events } = strace('ioctl(48, VFIO_DEVICE_QUERY_GFX_PLANE or VFIO_IOMMU_UNMAP_DMA, 0x7ffffd5c42f0) = 0 <0.000014>');
    expect(events.map((e) => e['op'])).toEqual(['OPEN', 'OPEN', 'VFIO_GROUP_SET_CONTAINER', 'VFIO_IOMMU_UNMAP_DMA']);
    expect(events[3]).toMatchObject({ fd: 48, unsure: true, note: 'strace prints VFIO_DEVICE_QUERY_GFX_PLANE or VFIO_IOMMU_UNMAP_DMA; the capture says nothing of fd 48: VFIO_IOMMU_UNMAP_DMA is the only one of them the trace format has' });
  });
  it("a container's IOMMU type decides between type1 and SPAPR ioctls of one number", () => {
    const { events } = strace('ioctl(17, VFIO_SET_IOMMU, 0x7) = 0', 'ioctl(17, 0x3b75, 0x7fffe3fd6b70) = 0');
    expect(events.at(-1)).toMatchObject({ op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', unsure: true });
  });
  it('a name no op of the format has, and the other system calls, are left out; only the former is reported', () => {
    const { events, issues } = strace('mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000', 'ioctl(3, VFIO_DEVICE_GET_INFO, 0x7ffd) = 0', '+++ exited with 0 +++');
    expect(events).toEqual([]);
    expect(issues).toEqual([{ line: 2, reason: 'ioctl VFIO_DEVICE_GET_INFO: no op of the trace format' }]);
  });
  it('a resumed call whose start is missing is not read', () => {
    expect(strace('ioctl(3, VFIO_GET_API_VERSION, 0) = 0', '<... ioctl resumed> , 0x7f) = 0').issues).toEqual([{ line: 2, reason: 'ioctl: resumed, but its start is not in the capture' }]);
  });
  it('-x and -xx: paths and -yy decorations printed as \\xNN bytes are read as the bytes', () => {
    const { events, issues } = strace(
      'openat(AT_FDCWD, "\\x2f\\x64\\x65\\x76\\x2f\\x76\\x66\\x69\\x6f\\x2f\\x76\\x66\\x69\\x6f", O_RDWR) = 17',
      'ioctl(18<\\x2f\\x64\\x65\\x76\\x2f\\x69\\x6f\\x6d\\x6d\\x75>, IOMMU_IOAS_ALLOC, 0x7ffd5c0e1b00) = 0',
    );
    expect(issues).toEqual([]);
    expect(events.map((e) => [e['op'], e['args']])).toEqual([
      ['OPEN', { path: '/dev/vfio/vfio' }],
      ['OPEN', { path: '/dev/iommu' }],
      ['IOAS_ALLOC', undefined],
    ]);
  });
  it('-e raw=ioctl: the number alone; -i and -n prefixes; -k stack frames are read and left out', () => {
    const { events, issues } = strace(
      '[00007f3a5c2e1a1b] ioctl(17, 0x3b66, 0x7) = 0',
      ' > /usr/lib64/libc.so.6(ioctl+0xb) [0x10a1b]',
      '[pid  7131] [  16] ioctl(17, 0x3b66, 0x1) = -1 EBUSY (Device or resource busy)',
    );
    expect(issues).toEqual([]);
    expect(events.filter((e) => e['op'] === 'VFIO_SET_IOMMU').map((e) => [e['args'], e['expect']])).toEqual([
      [{ arg: 7 }, {}],
      [{ arg: 1 }, { errno: 'EBUSY' }],
    ]);
  });
  it('a strace that knows no VFIO names prints the number by its parts (_IO, _IOC); its own notes are read and left out', () => {
    const { events, issues } = strace(
      'strace: Process 7131 attached',
      'ioctl(17, _IO(0x3b, 0x66), 0x7) = 0',
      'ioctl(17, _IOC(_IOC_NONE, 0x3b, 0x66, 0), 0x1) = -1 EBUSY (Device or resource busy)',
    );
    expect(issues).toEqual([]);
    expect(events.filter((e) => e['op'] === 'VFIO_SET_IOMMU').map((e) => e['expect'])).toEqual([{}, { errno: 'EBUSY' }]);
  });
  it('a file that is not strace output is refused', () => {
    expect(errorOf(() => strace('iommufd_backend_free_id  iommufd=3 id=2 (0)'))).toMatch(/: not strace output of VFIO or iommufd ioctls: no line of it reads as one$/);
  });
});
