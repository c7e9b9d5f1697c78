/**
 * Trace events of QEMU development branches, which the vendored trace-events files do not
 * have, in the format captures of those branches print: `vfio_region_dmabuf` of the iommufd
 * dma-buf work (hw/vfio/region.c, `vfio_region_create_dma_buf()`, 2025), one line per mmap of a
 * BAR after its VFIO_DEVICE_FEATURE DMA_BUF; the version posted later prints the fd and region
 * number too, this one neither.
 */
import type { TraceEventFormat } from './tables.ts';

export const QEMU_BRANCH_EVENTS: { readonly [name: string]: TraceEventFormat } = {
  vfio_region_dmabuf: { args: ['dev', 'name', 'offset', 'size'], format: 'Device %s, region "%s", offset: 0x%lx, size: 0x%lx' },
};

/**
 * Earlier formats of events the vendored files have, as released QEMUs print them; the
 * arguments keep the vendored names, and those an earlier format lacks are absent.
 * `iommufd_backend_get_dirty_bitmap` before its `flags` (QEMU 9.1 to 10.0: backends/trace-events,
 * `" iommufd=%d hwpt=%u iova=0x%"PRIx64" size=0x%"PRIx64" page_size=0x%"PRIx64" (%d)"`), when
 * QEMU passed no flags.
 */
export const QEMU_EARLIER_FORMATS: { readonly [name: string]: readonly TraceEventFormat[] } = {
  iommufd_backend_get_dirty_bitmap: [{ args: ['iommufd', 'hwpt_id', 'iova', 'size', 'page_size', 'ret'], format: ' iommufd=%d hwpt=%u iova=0x%llx size=0x%llx page_size=0x%llx (%d)' }],
};
