/**
 * The `error_report()`/`warn_report()` messages QEMU prints about VFIO and iommufd ioctls, read
 * by their text. None is in a trace-events file; each pattern follows the QEMU function that
 * prints it (qemu/qemu: hw/vfio/, backends/iommufd.c, util/vfio-helpers.c), across the names
 * they had over time (`vfio_dma_map` became `vfio_container_dma_map` in QEMU 8.2). A message
 * may sit in a chain (`vfio X: failed to setup container for group N: ...: Region pc.ram:
 * vfio_dma_map(...) = -12 (...)`); every pattern is looked for anywhere in the line.
 */

/** The ioctls whose failure a message reports. */
export type FailedOp =
  | 'VFIO_IOMMU_MAP_DMA'
  | 'VFIO_IOMMU_UNMAP_DMA'
  | 'VFIO_IOMMU_DIRTY_PAGES'
  | 'VFIO_IOMMU_SPAPR_TCE_CREATE'
  | 'VFIO_IOMMU_SPAPR_TCE_REMOVE'
  | 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY'
  | 'IOAS_MAP'
  | 'IOAS_MAP_FILE'
  | 'IOAS_UNMAP'
  | 'DESTROY'
  | 'GET_HW_INFO'
  | 'IOAS_ALLOC'
  | 'HWPT_ALLOC'
  | 'HWPT_SET_DIRTY_TRACKING'
  | 'HWPT_GET_DIRTY_BITMAP'
  | 'HWPT_INVALIDATE'
  | 'VIOMMU_ALLOC'
  | 'VDEVICE_ALLOC'
  | 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'
  | 'VFIO_DEVICE_DETACH_IOMMUFD_PT';

export type QemuFact =
  /** `<ioctl> failed: <strerror>`, printed by the function that issued it. */
  | {
      readonly kind: 'failed';
      readonly op: FailedOp;
      readonly text: string;
      readonly id?: bigint;
      /** A device ioctl's device, by name, and its fd when the message prints it. */
      readonly device?: string;
      readonly devfd?: number;
    }
  /** `vfio[_container]_dma_[un]map(<container>, <iova>, <size>[, <vaddr>]) = <ret> (<strerror>)`, printed by its caller. */
  | {
      readonly kind: 'dma';
      readonly unmap: boolean;
      readonly container: string;
      readonly iova: bigint;
      readonly size: bigint;
      readonly vaddr?: bigint;
      readonly ret: bigint;
      readonly text?: string;
    }
  /** `qemu_vfio_dma_map(<host>, <size>) failed: `: QEMU's own VFIO user (the NVMe block driver) mapping a RAM block. */
  | { readonly kind: 'qemu-vfio-map'; readonly host: bigint; readonly size: bigint }
  /** `vfio <device>: failed to setup container[ for group <N>]`: which device and group a legacy container was for. */
  | { readonly kind: 'container'; readonly device: string; readonly group?: number }
  /** `vfio <device>: `: the device a message is about. */
  | { readonly kind: 'device'; readonly device: string };

interface MessagePattern {
  readonly pattern: RegExp;
  /** The QEMU function(s) that print it. */
  readonly source: string;
  readonly fact: (m: RegExpExecArray) => QemuFact;
}

/** A strerror() text: up to the end, a `:` of a chain or a `,` (`IOMMU_IOAS_MAP failed: %m, PCI BAR?`). */
const TEXT = '([^:,()]+?)(?=$|[:,])';
const PTR = '(0x[0-9a-fA-F]+|\\(nil\\))';
const HEX = '0x([0-9a-fA-F]+)';

const failed = (op: FailedOp, source: string, message: string): MessagePattern => ({
  pattern: new RegExp(`${message} failed: ${TEXT}`),
  source,
  fact: (m) => ({ kind: 'failed', op, text: m[1] as string }),
});

/** `error_setg_errno(errp, errno, "<message>")`, reported as `<message>: <strerror>`; `message` has no group of its own. */
const setgErrno = (op: FailedOp, source: string, message: string): MessagePattern => ({
  pattern: new RegExp(`${message}: ${TEXT}`),
  source,
  fact: (m) => ({ kind: 'failed', op, text: m[1] as string }),
});

const address = (s: string): bigint => (s === '(nil)' ? 0n : BigInt(s));

export const QEMU_MESSAGES: readonly MessagePattern[] = [
  failed('VFIO_IOMMU_MAP_DMA', 'vfio_dma_map(), vfio_legacy_dma_map() (hw/vfio/common.c, container.c); qemu_vfio_do_mapping() (util/vfio-helpers.c)', 'VFIO_MAP_DMA'),
  failed('VFIO_IOMMU_UNMAP_DMA', 'vfio_dma_unmap(), vfio_legacy_dma_unmap() (hw/vfio/common.c, container.c)', 'VFIO_UNMAP_DMA'),
  failed('IOAS_MAP', 'iommufd_backend_map_dma() (backends/iommufd.c, QEMU 8.2 to 9.2; before, the iommufd branches)', 'IOMMU_IOAS_MAP'),
  failed('IOAS_UNMAP', 'iommufd_backend_unmap_dma() (backends/iommufd.c, QEMU 8.2 to 9.2)', 'IOMMU_IOAS_UNMAP'),
  {
    pattern: new RegExp(`Failed to get hardware info: ${TEXT}`),
    source: 'iommufd_backend_get_device_info() (backends/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'GET_HW_INFO', text: m[1] as string }),
  },
  {
    pattern: new RegExp(`Failed to allocate ioas: ${TEXT}`),
    source: 'iommufd_backend_alloc_ioas() (backends/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'IOAS_ALLOC', text: m[1] as string }),
  },
  setgErrno('HWPT_ALLOC', 'iommufd_backend_alloc_hwpt() (backends/iommufd.c: "Failed to allocate hwpt"; the iommufd branches: "IOMMU_HWPT_ALLOC failed: %m")', '(?:Failed to allocate hwpt|IOMMU_HWPT_ALLOC failed)'),
  failed('IOAS_MAP_FILE', 'iommufd_backend_map_file_dma() (backends/iommufd.c)', 'IOMMU_IOAS_MAP_FILE'),
  setgErrno('HWPT_SET_DIRTY_TRACKING', 'iommufd_backend_set_dirty_tracking() (backends/iommufd.c): "IOMMU_HWPT_SET_DIRTY_TRACKING(hwpt_id %u) failed"', 'IOMMU_HWPT_SET_DIRTY_TRACKING\\(hwpt_id \\d+\\) failed'),
  setgErrno(
    'HWPT_GET_DIRTY_BITMAP',
    'iommufd_backend_get_dirty_bitmap() (backends/iommufd.c): "IOMMU_HWPT_GET_DIRTY_BITMAP (iova: 0x%"HWADDR_PRIx" size: 0x"RAM_ADDR_FMT") failed"',
    'IOMMU_HWPT_GET_DIRTY_BITMAP \\(iova: 0x[0-9a-fA-F]+ size: 0x[0-9a-fA-F]+\\) failed',
  ),
  setgErrno(
    'HWPT_INVALIDATE',
    'iommufd_backend_invalidate_cache() (backends/iommufd.c): "IOMMU_HWPT_INVALIDATE failed: total %d entries, processed %d entries" ("totally" as first posted)',
    'IOMMU_HWPT_INVALIDATE failed: total(?:ly)? \\d+ entries, processed \\d+ entries',
  ),
  {
    // error_setg_errno(errp, errno, "[iommufd=%d] error attach %s (%d) to id=%d", iommufd, vbasedev->name, vbasedev->fd, id).
    pattern: new RegExp(`\\[iommufd=\\d+\\] error attach (\\S+) \\((\\d+)\\) to id=(\\d+): ${TEXT}`),
    source: 'iommufd_cdev_attach_ioas_hwpt() (hw/vfio/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', device: m[1] as string, devfd: Number(m[2]), id: BigInt(m[3] as string), text: m[4] as string }),
  },
  {
    // error_setg_errno(errp, errno, "detach %s failed", vbasedev->name).
    pattern: new RegExp(`detach (\\S+) failed: ${TEXT}`),
    source: 'iommufd_cdev_detach_ioas_hwpt() (hw/vfio/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', device: m[1] as string, text: m[2] as string }),
  },
  setgErrno('VIOMMU_ALLOC', 'iommufd_backend_alloc_viommu() (backends/iommufd.c)', 'IOMMU_VIOMMU_ALLOC failed'),
  setgErrno('VDEVICE_ALLOC', 'iommufd_backend_alloc_vdev() (backends/iommufd.c)', 'IOMMU_VDEVICE_ALLOC failed'),
  setgErrno('VFIO_IOMMU_DIRTY_PAGES', 'vfio_legacy_set_dirty_page_tracking() (hw/vfio/container.c): "Failed to set dirty tracking flag 0x%x"', 'Failed to set dirty tracking flag 0x[0-9a-fA-F]+'),
  setgErrno(
    'VFIO_IOMMU_DIRTY_PAGES',
    'vfio_legacy_query_dirty_bitmap() (hw/vfio/container.c): "Failed to get dirty bitmap for iova: 0x%"PRIx64" size: 0x%"PRIx64',
    'Failed to get dirty bitmap for iova: 0x[0-9a-fA-F]+ size: 0x[0-9a-fA-F]+',
  ),
  {
    // Before QEMU 10.1: `error_report("Failed to create a window, ret = %d (%m)", ret)`; since: error_setg_errno(), `: %m` after.
    pattern: new RegExp(`Failed to create a window, ret = -?\\d+(?: \\(([^)]*)\\)|: ${TEXT})`),
    source: 'vfio_spapr_create_window() (hw/vfio/spapr.c)',
    fact: (m) => ({ kind: 'failed', op: 'VFIO_IOMMU_SPAPR_TCE_CREATE', text: (m[1] ?? m[2]) as string }),
  },
  {
    // `error_report("Failed to remove window at %"PRIx64, ...)`: no errno.
    pattern: /Failed to remove window at [0-9a-fA-F]+/,
    source: 'vfio_spapr_remove_window() (hw/vfio/spapr.c)',
    fact: () => ({ kind: 'failed', op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', text: '' }),
  },
  setgErrno('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'vfio_prereg_listener_region_add() (hw/vfio/spapr.c): "Memory registering failed"', 'Memory registering failed'),
  {
    // `error_report("Failed to free id: %u %m", id)`; an iommufd branch of 2023 printed no space before the id.
    pattern: new RegExp(`Failed to free id: ?(\\d+) ${TEXT}`),
    source: 'iommufd_backend_free_id() (backends/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'DESTROY', id: BigInt(m[1] as string), text: m[2] as string }),
  },
  {
    pattern: new RegExp(`(?:vfio_dma_map|vfio_container_dma_map)\\(${PTR}, ${HEX}, ${HEX}, ${PTR}\\) = (-?\\d+)(?: \\(([^)]*)\\))?`),
    source: 'vfio_listener_region_add(), vfio_iommu_map_notify() (hw/vfio/common.c; listener.c from QEMU 10.0)',
    fact: (m) => ({
      kind: 'dma',
      unmap: false,
      container: m[1] as string,
      iova: BigInt(`0x${m[2]}`),
      size: BigInt(`0x${m[3]}`),
      vaddr: address(m[4] as string),
      ret: BigInt(m[5] as string),
      ...(m[6] === undefined ? {} : { text: m[6] }),
    }),
  },
  {
    pattern: new RegExp(`(?:vfio_dma_unmap|vfio_container_dma_unmap)\\(${PTR}, ${HEX}, ${HEX}\\) = (-?\\d+)(?: \\(([^)]*)\\))?`),
    source: 'vfio_listener_region_del(), vfio_iommu_map_notify() (hw/vfio/common.c; listener.c from QEMU 10.0)',
    fact: (m) => ({
      kind: 'dma',
      unmap: true,
      container: m[1] as string,
      iova: BigInt(`0x${m[2]}`),
      size: BigInt(`0x${m[3]}`),
      ret: BigInt(m[4] as string),
      ...(m[5] === undefined ? {} : { text: m[5] }),
    }),
  },
  {
    pattern: new RegExp(`qemu_vfio_dma_map\\(${PTR}, (\\d+)\\) failed: `),
    source: 'qemu_vfio_ram_block_added() (util/vfio-helpers.c)',
    fact: (m) => ({ kind: 'qemu-vfio-map', host: address(m[1] as string), size: BigInt(m[2] as string) }),
  },
  {
    pattern: /vfio (\S+): failed to setup container(?: for group (\d+))?/,
    source: 'vfio_connect_container(), vfio_attach_device() (hw/vfio/common.c, container.c)',
    fact: (m) => ({ kind: 'container', device: m[1] as string, ...(m[2] === undefined ? {} : { group: Number(m[2]) }) }),
  },
  {
    pattern: /(?:^|: )vfio (\S+): /,
    source: "vfio_device's error prefix (error_prepend(errp, VFIO_MSG_PREFIX, vbasedev->name))",
    fact: (m) => ({ kind: 'device', device: m[1] as string }),
  },
];

/** Messages that report no ioctl: read, and left out of the trace. */
const NO_IOCTL: readonly RegExp[] = [
  // hw_error() after a failed map of guest RAM (vfio_listener_region_add()).
  /hardware error: vfio: DMA mapping failed, unable to continue/,
  // hw_error() after a failed memory preregistration at run time (vfio_prereg_listener_region_add()); its trace line is the call.
  /hardware error: vfio: Memory registering failed, unable to continue/,
];

/** The facts a message gives, in the order they appear in it; `null` when it says nothing the importer reads. */
export function messageFacts(text: string): QemuFact[] | null {
  const found: { at: number; fact: QemuFact }[] = [];
  for (const { pattern, fact } of QEMU_MESSAGES) {
    const m = pattern.exec(text);
    if (m !== null) found.push({ at: m.index, fact: fact(m) });
  }
  if (found.length === 0) return NO_IOCTL.some((p) => p.test(text)) ? [] : null;
  return found.sort((a, b) => a.at - b.at).map((f) => f.fact);
}
