/**
 * A QEMU log joined with the host's ftrace of the same run (kernel-side.ts): a map or unmap the
 * log records without a result (a memory listener's `region_add`, `region_del`) is a recorded
 * success when the kernel's `map` (`unmap`) events tile its range; each joined result names the
 * kernel-side line it comes from in the event's note.
 *
 * How one ioctl shows there. VFIO_IOMMU_MAP_DMA pins its range a physically contiguous chunk at
 * a time and maps each chunk into every IOMMU domain of the container (vfio_pin_map_dma(),
 * vfio_iommu_map(): one iommu_map() per chunk and domain); IOAS_MAP fills each domain in
 * batches of contiguous pages (iopt_area_fill_domains(), batch_to_domain()). iommu_map() prints
 * one `map` event per call, for the whole chunk, only when it mapped all of it, and unrolls a
 * failure. So a map is one or more `map` events whose ranges tile [iova, iova + size), each
 * repeated once per further domain; a map that fails part way leaves a partial tiling, then
 * the `unmap` events of vfio_remove_dma(). An unmap (vfio_unmap_unpin()) is the other domains'
 * whole range and the first one's contiguous chunks.
 *
 * Kernel-side lines no call takes, and those that contradict the log (it reports a failure
 * where the kernel mapped the whole range), are warnings naming their file and line; the log's
 * own result stands.
 */
import type { KernelRange } from './kernel-side.ts';
import type { LineIssues } from './line-issues.ts';
import type { QemuCall } from './qemu-calls.ts';

const MAPS = ['VFIO_IOMMU_MAP_DMA', 'IOAS_MAP', 'IOAS_MAP_FILE'];
const UNMAPS = ['VFIO_IOMMU_UNMAP_DMA', 'IOAS_UNMAP'];

/** The IOVA range a call names: `[start, end)`; `null` when the log does not give it. */
function rangeOf(call: QemuCall): { start: bigint; end: bigint } | null {
  if (call.unknown === true || call.unknown?.includes('iova') === true) return null;
  // hex() writes a small value as a number.
  const value = (v: unknown): bigint | null => (typeof v === 'string' || typeof v === 'number' ? BigInt(v) : null);
  const iova = value(call.args['iova']);
  const size = value(call.args['size'] ?? call.args['length']);
  return iova === null || size === null ? null : { start: iova, end: iova + size };
}

/** How much of `[start, end)` the ranges, all inside it, cover. */
function coverage(taken: readonly KernelRange[], start: bigint): bigint {
  const sorted = [...taken].sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  let reached = start;
  let covered = 0n;
  for (const r of sorted) {
    const last = r.iova + r.size;
    if (last > reached) {
      covered += last - (r.iova > reached ? r.iova : reached);
      reached = last;
    }
  }
  return covered;
}

/** The kernel-side lines a call took, by file: `ftrace.txt:2,3` or `ftrace.txt:2-40 (12 lines)`. */
const where = (taken: readonly KernelRange[]): string =>
  [...new Set(taken.map((r) => r.file))]
    .map((file) => {
      const lines = taken.filter((r) => r.file === file).map((r) => r.line);
      return `${file.split('/').pop() as string}:${lines.length > 3 ? `${lines[0]}-${lines.at(-1)} (${lines.length} lines)` : lines.join(',')}`;
    })
    .join(', ');

const addNote = (call: QemuCall, text: string): void => {
  call.note = call.note === undefined ? text : `${call.note}; ${text}`;
};

/**
 * The kernel's events of `op` that one call accounts for: in file order, those inside its range
 * until they tile it, then the repeats for further domains, up to the first `unmap` of the
 * range (after which a repeat is a later call's).
 */
function take(ranges: readonly KernelRange[], used: ReadonlySet<KernelRange>, op: 'map' | 'unmap', start: bigint, end: bigint) {
  const inside = (r: KernelRange) => !used.has(r) && r.op === op && r.size > 0n && r.iova >= start && r.iova + r.size <= end;
  const overlaps = (r: KernelRange) => r.iova < end && r.iova + r.size > start;
  const taken: KernelRange[] = [];
  let whole = false;
  for (const r of ranges) {
    if (whole && r.op !== op && overlaps(r)) break;
    if (!inside(r)) continue;
    taken.push(r);
    whole ||= coverage(taken, start) === end - start;
  }
  if (!whole && op === 'map' && taken.length > 0) {
    // What a map that failed part way had mapped, unmapped again (vfio_remove_dma(), iommu_map()'s unroll).
    const after = ranges.indexOf(taken.at(-1) as KernelRange);
    for (const r of ranges.slice(after + 1)) {
      if (r.op === 'map' && overlaps(r)) break;
      if (!used.has(r) && r.op === 'unmap' && r.iova >= start && r.iova + r.size <= end) taken.push(r);
    }
  }
  return { taken, whole };
}

/** Joins the kernel's map and unmap events to the log's calls, in the log's order. */
export function joinKernelSide(calls: readonly QemuCall[], ranges: readonly KernelRange[], issues: LineIssues): void {
  const used = new Set<KernelRange>();
  for (const call of [...calls].sort((a, b) => a.at - b.at)) {
    const op = MAPS.includes(call.op) ? 'map' : UNMAPS.includes(call.op) ? 'unmap' : null;
    const range = op === null ? null : rangeOf(call);
    if (op === null || range === null) continue;
    const { taken, whole } = take(ranges, used, op, range.start, range.end);
    if (taken.length === 0) continue;
    for (const r of taken) used.add(r);
    const first = taken[0] as KernelRange;
    const failed = call.result?.errno !== undefined;
    const what = `${op === 'map' ? 'mapped' : 'unmapped'} ${whole ? 'the whole range' : 'part of the range'}`;
    if (whole && failed) {
      addNote(call, `kernel side: ${where(taken)}: the kernel ${what}, which contradicts the log's failure`);
      issues.add(first.line, `the kernel ${what} of capture line ${call.line} (${call.op}), which the QEMU log reports failed (${call.result?.errno}); the log's result stands`, first.file);
    } else if (whole) {
      if (call.result === undefined) call.result = {};
      addNote(call, `kernel side: ${where(taken)}: the kernel ${what}`);
    } else {
      addNote(call, `kernel side: ${where(taken)}: the kernel ${what}`);
      if (!failed) {
        const why = op === 'map' ? 'a map that failed part way, or a cut log' : 'whether the rest was mapped, the logs do not say';
        issues.add(first.line, `the kernel ${what} of capture line ${call.line} (${call.op}): ${why}; no result is taken`, first.file);
      }
    }
  }
  for (const r of ranges) {
    if (!used.has(r)) issues.add(r.line, `iommu ${r.op} of 0x${r.iova.toString(16)}, size 0x${r.size.toString(16)}: no call of the QEMU log ${r.op}s that range`, r.file);
  }
}
