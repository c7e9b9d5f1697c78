/** Values of include/uapi/linux/vfio.h that more than one VFIO path reads. */
export const VFIO_API_VERSION = 0n;

export const VFIO_DMA_MAP_FLAG_READ = 1n;
export const VFIO_DMA_MAP_FLAG_WRITE = 2n;
export const VFIO_DMA_MAP_FLAG_VADDR = 4n;

export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1n;
export const VFIO_DMA_UNMAP_FLAG_ALL = 2n;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 4n;
