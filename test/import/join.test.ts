/**
 * `import qemu LOG --join KERNEL_LOG`: the host ftrace's iommu map and unmap events
 * (include/trace/events/iommu.h) decide the maps and unmaps a QEMU log records without a
 * result; kernel-side lines no call takes, or that contradict the log, are warnings naming
 * their file and line.
 */
import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../replay/import/line-issues.ts';
import { captureFile, errorOf, imported } from './capture-files.ts';

/** A map event as ftrace prints it: `TP_printk("IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu", ...)`, or before that the form without the range's end. */
const map = (iova: bigint, size: bigint, older = false) => {
  const x = (n: bigint) => `0x${n.toString(16).padStart(16, '0')}`;
  const range = older ? x(iova) : `${x(iova)} - ${x(iova + size)}`;
  return `        CPU 0/KVM-3046  [051] .... 63113.338894: map: IOMMU: iova=${range} paddr=${x(0x100000000n + iova)} size=${size}`;
};
/** `TP_printk("IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu", ...)`. */
const unmap = (iova: bigint, size: bigint, unmapped = size) => {
  const x = (n: bigint) => `0x${n.toString(16).padStart(16, '0')}`;
  return `  qemu-system-x86-7131  [002] d..1. 63120.000001: unmap: IOMMU: iova=${x(iova)} - ${x(iova + size)} size=${size} unmapped_size=${unmapped}`;
};

/** The QEMU log imported with the ftrace `kernel` joined: its events, and the warnings. */
function joined(log: readonly string[], kernel: readonly string[]) {
  const ftrace = captureFile(kernel, `ftrace-${Math.random().toString(36).slice(2)}.txt`);
  const got = imported('qemu', log, { join: [ftrace] });
  const name = ftrace.split('/').pop() as string;
  return { ...got, ftrace, name, mapEvents: got.events.filter((e) => /MAP_DMA$/.test(e['op'] as string)) };
}

// `vfio_listener_region_add_ram`: "region_add [ram] 0x%"PRIx64" - 0x%"PRIx64" [%p]" (hw/vfio/trace-events).
const REGION_ADD = 'vfio_listener_region_add_ram region_add [ram] 0x0 - 0x3fffff [0x7f0000000000]';

describe('an ftrace joined to a QEMU log', () => {
  it('a map whose chunks (mapped into two domains) tile its range is a recorded success, naming the ftrace lines', () => {
    const M = 0x200000n;
    const { mapEvents, issues, name } = joined([REGION_ADD], [map(0n, M), map(0n, M), map(M, M, true), map(M, M, true)]);
    expect(issues).toEqual([]);
    expect(mapEvents).toEqual([
      expect.objectContaining({ expect: {}, note: `kernel side: ${name}:1-4 (4 lines): the kernel mapped the whole range` }),
    ]);
  });
  it("a map the log reports failed, whose ftrace shows part mapped then unmapped: consistent, the log's errno", () => {
    const { mapEvents, issues, name } = joined(
      [
        REGION_ADD,
        'qemu-system-x86_64: VFIO_MAP_DMA failed: Cannot allocate memory',
        'qemu-system-x86_64: vfio_dma_map(0x55a28c7659d0, 0x0, 0x400000, 0x7f0000000000) = -12 (Cannot allocate memory)',
      ],
      [map(0n, 0x200000n), unmap(0n, 0x200000n)],
    );
    expect(issues).toEqual([]);
    expect(mapEvents).toEqual([expect.objectContaining({ expect: { errno: 'ENOMEM' }, note: `kernel side: ${name}:1,2: the kernel mapped part of the range` })]);
  });
  it("a whole map where the log reports a failure contradicts it: a warning on the ftrace line, the log's result stands", () => {
    const { mapEvents, issues, ftrace } = joined(
      [REGION_ADD, 'qemu-system-x86_64: vfio_dma_map(0x55a28c7659d0, 0x0, 0x400000, 0x7f0000000000) = -22 (Invalid argument)'],
      [map(0n, 0x400000n)],
    );
    expect(mapEvents[0]?.['expect']).toEqual({ errno: 'EINVAL' });
    expect(issues).toEqual([
      { file: ftrace, line: 1, reason: 'the kernel mapped the whole range of capture line 1 (VFIO_IOMMU_MAP_DMA), which the QEMU log reports failed (EINVAL); the log\'s result stands' },
    ]);
  });
  it('an unmap the kernel did whole is a recorded success; kernel lines no call takes are warnings', () => {
    const { events, issues, ftrace } = joined(
      ['vfio_listener_region_del region_del 0x0 - 0x1fffff'],
      [unmap(0n, 0x200000n), map(0xfee00000n, 0x1000n), '  <idle>-0  [000] d.h1. 1.000000: io_page_fault: IOMMU:[drhd 0] fault addr 0x0'],
    );
    expect(events.at(-1)).toMatchObject({ op: 'VFIO_IOMMU_UNMAP_DMA', expect: {} });
    expect(issues).toEqual([
      { file: ftrace, line: 3, reason: 'io_page_fault: not an iommu map or unmap event the join reads' },
      { file: ftrace, line: 2, reason: 'iommu map of 0xfee00000, size 0x1000: no call of the QEMU log maps that range' },
    ]);
    expect(formatIssues('log.txt', issues).at(-1)).toBe(`${ftrace}: 2 lines not joined`);
  });
  it('a map the ftrace covers only in part, with no result in the log: a warning, no result taken', () => {
    const { mapEvents, issues } = joined([REGION_ADD], [map(0n, 0x200000n)]);
    expect(mapEvents[0]?.['expect']).toBeUndefined();
    expect(issues.map((i) => i.reason)).toEqual(['the kernel mapped part of the range of capture line 1 (VFIO_IOMMU_MAP_DMA): a map that failed part way, or a cut log; no result is taken']);
  });
});

describe('a kernel log joined', () => {
  it('dmesg and the system log\'s kernel lines are read in their generic form; no upstream message gives an ioctl\'s range, so each is a warning', () => {
    const { issues } = joined([REGION_ADD], [
      '[ 1042.662165] vfio_pin_pages_remote: RLIMIT_MEMLOCK (65536) exceeded',
      'Jan 13 18:17:37 VM kernel: [ 1042.7] vfio-pci 0000:84:00.0: enabling device (0000 -> 0003)',
    ]);
    expect(issues.map((i) => [i.line, i.reason.split(':')[0]])).toEqual([
      [1, 'a kernel message the join cannot match (no upstream message gives a VFIO or iommufd ioctl\'s range)'],
      [2, 'a kernel message the join cannot match (no upstream message gives a VFIO or iommufd ioctl\'s range)'],
    ]);
  });
});

describe('what --join refuses', () => {
  it('a file that is no kernel-side log, and a join to anything but a QEMU log', () => {
    const log = captureFile([REGION_ADD]);
    expect(errorOf(() => imported('qemu', [REGION_ADD], { join: [log] }))).toMatch(/: not a kernel-side log to join \(an ftrace or dmesg log\)$/);
    const ftrace = captureFile([map(0n, 0x1000n)]);
    expect(errorOf(() => imported('strace', ['ioctl(3, VFIO_GET_API_VERSION) = 0'], { join: [ftrace] }))).toBe(
      '--join: only a QEMU log joins kernel-side logs, not strace output of VFIO or iommufd ioctls',
    );
  });
});
