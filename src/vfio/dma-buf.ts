/**
 * `VFIO_DEVICE_FEATURE` with `VFIO_DEVICE_FEATURE_DMA_BUF` (drivers/vfio/vfio_main.c:
 * `vfio_ioctl_device_feature()`; drivers/vfio/pci/vfio_pci_dmabuf.c:
 * `vfio_pci_core_feature_dma_buf()`): a PCI device exports slices of one of its BARs as a
 * dma-buf, whose fd the ioctl returns. The trace gives the feature as `feature` (or in `flags`,
 * as C does), struct vfio_device_feature_dma_buf's fields by name (its `flags` as
 * `dma_buf_flags`) and its `dma_ranges[]` inline as `ranges`. A header device's `bars` are the
 * sizes of its BARs; without them every range fits.
 */
import type { Fields, Value } from '../../events/types.ts';
import { chooseFd, installFile } from '../mm/files.ts';
import { type Call, type Result, big, ok, refuse } from '../model/command.ts';
import { Fail, fail } from '../model/fail.ts';
import type { HeaderDevice } from '../model/world.ts';
import { grantedDevice } from './device-cdev.ts';
import { isEmulated } from './emulated.ts';
import { hasOlder } from '../kernel/profile.ts';

const FEATURE_MASK = 0xffffn;
const FEATURE_GET = 0x10000n;
const FEATURE_SET = 0x20000n;
const FEATURE_PROBE = 0x40000n;
export const FEATURE_DMA_BUF = 11n;
/** `offsetofend(struct vfio_device_feature, flags)`, and `sizeof(struct vfio_device_feature_dma_buf)`. */
const FEATURE_MINSZ = 8n;
const DMA_BUF_SIZE = 16n;
const RANGE_SIZE = 16n;
/** BARs 0-5: `VFIO_PCI_ROM_REGION_INDEX` is 6. */
const ROM_REGION_INDEX = 6n;
/** `KMALLOC_MAX_SIZE` with 4 KiB pages: what `memdup_array_user()` can allocate. */
const KMALLOC_MAX_SIZE = 1n << 22n;
/** `DMA_IOVA_USE_SWIOTLB`, a bit no dma-buf length may have. */
const DMA_IOVA_USE_SWIOTLB = 1n << 63n;
const SIZE_MAX = (1n << 64n) - 1n;

/** The flags word of struct vfio_device_feature: `flags` with the `feature` number in its low bits. */
const flagsOf = (args: Fields): bigint => BigInt.asUintN(32, big(args, 'flags') | big(args, 'feature'));

/** Whether the event asks for the one feature the model has: DMA_BUF. */
export const isDmaBufFeature = (args: Fields): boolean => (flagsOf(args) & FEATURE_MASK) === FEATURE_DMA_BUF;

/** `vfio_ioctl_device_feature()`: the header (EFAULT, EINVAL), then the driver's feature op. */
export function deviceFeature(call: Call): Result {
  const target = grantedDevice(call);
  if ('world' in target) return target;
  const args = call.event.args;
  if (args === null) return refuse(call, fail('EFAULT', 'vfio_ioctl_device_feature', 'copy_from_user of a NULL argument'));
  const fields = args.fields;
  const ranges = rangesOf(fields);
  const argsz = typeof fields['argsz'] === 'bigint' ? fields['argsz'] : FEATURE_MINSZ + DMA_BUF_SIZE + RANGE_SIZE * BigInt(ranges.length);
  const flags = flagsOf(fields);
  if (argsz < FEATURE_MINSZ) return refuse(call, fail('EINVAL', 'vfio_ioctl_device_feature', 'argsz below minsz'));
  if ((flags & ~(FEATURE_MASK | FEATURE_GET | FEATURE_SET | FEATURE_PROBE)) !== 0n) {
    return refuse(call, fail('EINVAL', 'vfio_ioctl_device_feature', 'flags has unknown bits'));
  }
  if ((flags & FEATURE_PROBE) === 0n && (flags & FEATURE_SET) !== 0n && (flags & FEATURE_GET) !== 0n) {
    return refuse(call, fail('EINVAL', 'vfio_ioctl_device_feature', 'GET and SET without PROBE'));
  }
  // An mdev driver has no device_feature op.
  if (isEmulated(target.device)) return refuse(call, fail('ENOTTY', 'vfio_ioctl_device_feature', 'the driver has no device_feature op'));
  if (hasOlder(call.world.config.kernel, 'device-feature-no-dma-buf')) {
    return refuse(call, fail('ENOTTY', 'vfio_pci_core_ioctl_feature', 'no DMA_BUF feature before 6.19'));
  }
  return dmaBuf(call, target.index, target.device, flags, argsz - FEATURE_MINSZ, fields, ranges);
}

/** `ranges` as the reader gave them: records of struct vfio_region_dma_range. */
function rangesOf(fields: Fields): readonly Fields[] {
  const ranges = fields['ranges'];
  return Array.isArray(ranges) ? (ranges as readonly Value[] as readonly Fields[]) : [];
}

/**
 * `vfio_pci_core_feature_dma_buf()`: `vfio_check_feature()` (GET only; PROBE answers 0), the
 * request (ranges, no flags, a BAR), the ranges copied (`memdup_array_user()`: ENOMEM past what
 * kmalloc gives, EFAULT past the ranges the trace gives) and checked (`validate_dmabuf_input()`,
 * `vfio_pci_core_fill_phys_vec()`), then the dma-buf exported and its fd returned.
 */
function dmaBuf(call: Call, index: number, device: HeaderDevice, flags: bigint, argsz: bigint, fields: Fields, ranges: readonly Fields[]): Result {
  const where = 'vfio_pci_core_feature_dma_buf';
  if ((flags & FEATURE_SET) !== 0n) return refuse(call, fail('EINVAL', 'vfio_check_feature', 'SET of a GET-only feature'));
  if ((flags & FEATURE_PROBE) !== 0n) return ok(call.world);
  if ((flags & FEATURE_GET) === 0n) return refuse(call, fail('EINVAL', 'vfio_check_feature', 'neither GET nor SET'));
  if (argsz < DMA_BUF_SIZE) return refuse(call, fail('EINVAL', 'vfio_check_feature', 'argsz below the feature struct'));
  const count = typeof fields['nr_ranges'] === 'bigint' ? fields['nr_ranges'] : BigInt(ranges.length);
  if (count === 0n || big(fields, 'dma_buf_flags') !== 0n) return refuse(call, fail('EINVAL', where, 'no ranges, or flags set'));
  const region = big(fields, 'region_index');
  if (region >= ROM_REGION_INDEX) return refuse(call, fail('ENODEV', where, 'region_index is not a BAR'));
  if (count * RANGE_SIZE > KMALLOC_MAX_SIZE) return refuse(call, fail('ENOMEM', 'memdup_array_user', 'the ranges exceed what kmalloc gives'));
  if (count > BigInt(ranges.length)) return refuse(call, fail('EFAULT', 'memdup_array_user', 'copy_from_user of a range faults'));
  const size = sizeOf(call.world.config.pageSize, ranges.slice(0, Number(count)));
  if (size instanceof Fail) return refuse(call, size);
  const fits = fitsBar(device, region, ranges.slice(0, Number(count)));
  if (fits !== null) return refuse(call, fits);
  const fd = chooseFd(call.process, call.choices, 'ret');
  const world = installFile(call.world, call.process.pid, fd, { kind: 'dmabuf', size, exporter: { kind: 'vfio', device: index }, ranges: Number(count), revoked: false });
  return { ...ok(world), ret: BigInt(fd) };
}

/** `validate_dmabuf_input()`: page-aligned ranges, none empty, their sum a size a DMA mapping can have. */
function sizeOf(pageSize: bigint, ranges: readonly Fields[]): Fail | bigint {
  let size = 0n;
  for (const r of ranges) {
    const offset = big(r, 'offset');
    const length = big(r, 'length');
    if (length === 0n || offset % pageSize !== 0n || length % pageSize !== 0n) return fail('EINVAL', 'validate_dmabuf_input', 'a range is empty or unaligned');
    size += length;
    if (size > SIZE_MAX) return fail('EINVAL', 'validate_dmabuf_input', 'the ranges add up past SIZE_MAX');
  }
  if ((size & DMA_IOVA_USE_SWIOTLB) !== 0n) return fail('EINVAL', 'validate_dmabuf_input', 'the size has DMA_IOVA_USE_SWIOTLB set');
  return size;
}

/**
 * `vfio_pci_core_get_dmabuf_phys()`: a BAR with no memory has no P2P provider (EINVAL), and
 * every range must end within it (EINVAL). Only the header's `bars` say how large a BAR is.
 */
function fitsBar(device: HeaderDevice, region: bigint, ranges: readonly Fields[]): Fail | null {
  const { bars } = device;
  if (bars === null) return null;
  const size = bars[Number(region)] ?? 0n;
  if (size === 0n) return fail('EINVAL', 'pcim_p2pdma_provider', 'the BAR has no memory');
  for (const r of ranges) {
    if (big(r, 'offset') + big(r, 'length') > size) return fail('EINVAL', 'vfio_pci_core_fill_phys_vec', 'a range ends past the BAR');
  }
  return null;
}
