/**
 * Kernel-side logs of a run: the host's ftrace (`/sys/kernel/debug/tracing/trace`) and its kernel
 * log (dmesg). Alone they replay nothing, the ioctls being QEMU's; joined to the QEMU log of the
 * same run (`import qemu LOG --join KERNEL_LOG`), they say what became of the calls the log
 * records without a result (qemu-join.ts).
 *
 * From ftrace, the `iommu` events `map` and `unmap` (include/trace/events/iommu.h), in both of
 * their formats: `IOMMU: iova=0x%016llx paddr=0x%016llx size=%zu` and the later
 * `IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu` (unmap: `size=%zu
 * unmapped_size=%zu`). `iommu_map()` prints `map` once per call, with the whole range, and only
 * when every page of it was mapped; `__iommu_unmap()` prints `unmap` with what it was asked and
 * what it unmapped. A kernel log's lines are read in their generic form (`[<sec>.<usec>] text`,
or the system log's `<date> <host> kernel: text`);
 * no upstream message reports a VFIO or iommufd ioctl's result by its range, so each one is a
 * line the join cannot match.
 */
import { captureLines } from './capture-text.ts';
import type { LineIssues } from './line-issues.ts';

export type KernelSideKind = 'ftrace' | 'dmesg';

/** An iommu `map` or `unmap` of an ftrace log: the range the kernel mapped, or unmapped. */
export interface KernelRange {
  readonly op: 'map' | 'unmap';
  readonly file: string;
  readonly line: number;
  readonly iova: bigint;
  /** `map`: its size; `unmap`: what was unmapped (`unmapped_size`). */
  readonly size: bigint;
}

const WHAT: { readonly [K in KernelSideKind]: string } = {
  ftrace: 'an ftrace log (/sys/kernel/debug/tracing/trace)',
  dmesg: 'a kernel log (dmesg)',
};

/** ftrace's line: `<task>-<pid> [<cpu>] [<flags>] <secs>.<usecs>: <event>: <text>` (the flags since Linux 2.6.37, with `irq-info`). */
const FTRACE = /^\s*\S.*-\d+\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\]\s+(?:\S+\s+)?\d+\.\d+: (\w+): (.*)$/;
/** printk's time stamp, as dmesg shows it; or the kernel's lines in the system log (`journalctl -k`, `/var/log/kern.log`). */
const DMESG = /^(?:\[\s*\d+\.\d+\] |\S+ +\d{1,2} \d{2}:\d{2}:\d{2} \S+ kernel: (?:\[\s*\d+\.\d+\] )?)(.*)$/u;

const MAP = /^IOMMU: iova=0x([0-9a-f]+)(?: - 0x[0-9a-f]+)? paddr=0x[0-9a-f]+ size=(\d+)$/;
const UNMAP = /^IOMMU: iova=0x([0-9a-f]+)(?: - 0x[0-9a-f]+)? size=(\d+) unmapped_size=(\d+)$/;

/** Which kernel-side log `text` is, by its first line; `null`: neither. */
export function kernelSideKind(text: string): KernelSideKind | null {
  const first = captureLines(text).find((l) => l.text.trim() !== '');
  if (first === undefined) return null;
  if (FTRACE.test(first.text)) return 'ftrace';
  if (DMESG.test(first.text)) return 'dmesg';
  return null;
}

export const kernelSideWhat = (kind: KernelSideKind): string => WHAT[kind];

/** The iommu map and unmap events of a kernel-side log, in its order; every other line is a warning naming `file`. */
export function readKernelSide(file: string, text: string, issues: LineIssues): KernelRange[] {
  const ranges: KernelRange[] = [];
  for (const { line, text: raw } of captureLines(text)) {
    if (raw.trim() === '') continue;
    const ftrace = FTRACE.exec(raw);
    if (ftrace === null) {
      const dmesg = DMESG.exec(raw);
      issues.add(
        line,
        dmesg === null ? 'neither an ftrace nor a kernel log line' : `a kernel message the join cannot match (no upstream message gives a VFIO or iommufd ioctl's range): ${JSON.stringify((dmesg[1] as string).slice(0, 80))}`,
        file,
      );
      continue;
    }
    const [, event, rest] = ftrace as unknown as [string, string, string];
    const map = event === 'map' ? MAP.exec(rest) : null;
    const unmap = event === 'unmap' ? UNMAP.exec(rest) : null;
    if (map !== null) ranges.push({ op: 'map', file, line, iova: BigInt(`0x${map[1]}`), size: BigInt(map[2] as string) });
    else if (unmap !== null) ranges.push({ op: 'unmap', file, line, iova: BigInt(`0x${unmap[1]}`), size: BigInt(unmap[3] as string) });
    else issues.add(line, `${event}: not an iommu map or unmap event the join reads`, file);
  }
  return ranges;
}
