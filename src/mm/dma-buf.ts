/**
 * dma-buf files (drivers/dma-buf/dma-buf.c): memory an exporter (the iommufd selftest, or VFIO
 * for a PCI device's BARs) hands out as an fd, which `IOMMU_IOAS_MAP_FILE` maps. The exporter
 * may revoke it (`dma_buf_move_notify()`): importers then stop using it, and new maps of it fail.
 */
import { type Fail, fail } from '../model/fail.ts';
import { revise } from '../model/revise.ts';
import type { OpenFile, Process, World } from '../model/world.ts';
import { fileOf } from './files.ts';

export type DmabufFile = OpenFile & { readonly kind: 'dmabuf' };

/** `dma_buf_get()`: the fd must be open (EBADF) and a dma-buf (EINVAL). */
export function dmabufOf(world: World, process: Process, fd: number): Fail | DmabufFile {
  const file = fd < 0 ? undefined : fileOf(world, process, fd);
  if (file === undefined) return fail('EBADF', 'dma_buf_get', 'the fd is not open');
  if (file.kind !== 'dmabuf') return fail('EINVAL', 'dma_buf_get', 'not a dma-buf');
  return file;
}

/** The dma-buf `file` revoked or valid again, as its exporter says. */
export function withRevoked(world: World, file: DmabufFile, revoked: boolean): World {
  if (file.revoked === revoked) return world;
  return revise(world, (d) => {
    d.files = world.files.set(file.id, { ...file, revoked });
  });
}

/**
 * `vfio_pci_dma_buf_cleanup()`, as header device `device` closes: every dma-buf it exported
 * is revoked for good (the exporter forgets them; opening the device again does not bring
 * them back).
 */
export function revokeDeviceDmabufs(world: World, device: number): World {
  let next = world;
  for (const file of world.files.values()) {
    if (file.kind === 'dmabuf' && file.exporter.kind === 'vfio' && file.exporter.device === device) next = withRevoked(next, file, true);
  }
  return next;
}
