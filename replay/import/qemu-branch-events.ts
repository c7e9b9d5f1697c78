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
