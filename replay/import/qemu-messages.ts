/**
 * The `error_report()`/`warn_report()` messages QEMU prints about VFIO and iommufd ioctls, read
 * by their text. None is in a trace-events file; each pattern follows the QEMU function that
 * prints it (qemu/qemu: hw/vfio/, backends/iommufd.c, util/vfio-helpers.c), across the names
 * they had over time (`vfio_dma_map` became `vfio_container_dma_map` in QEMU 8.2). A message
 * may sit in a chain (`vfio X: failed to setup container for group N: ...: Region pc.ram:
 * vfio_dma_map(...) = -12 (...)`); every pattern is looked for anywhere in the line.
 */

/** The ioctls whose failure a message reports. */
export type FailedOp = 'VFIO_IOMMU_MAP_DMA' | 'VFIO_IOMMU_UNMAP_DMA' | 'IOAS_MAP' | 'IOAS_UNMAP' | 'DESTROY' | 'GET_HW_INFO' | 'IOAS_ALLOC' | 'HWPT_ALLOC';

export type QemuFact =
  /** `<ioctl> failed: <strerror>`, printed by the function that issued it. */
  | { readonly kind: 'failed'; readonly op: FailedOp; readonly text: string; readonly id?: bigint }
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
  {
    pattern: new RegExp(`Failed to allocate hwpt: ${TEXT}`),
    source: 'iommufd_backend_alloc_hwpt() (backends/iommufd.c)',
    fact: (m) => ({ kind: 'failed', op: 'HWPT_ALLOC', text: m[1] as string }),
  },
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
