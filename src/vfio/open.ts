/**
 * OPEN of VFIO's nodes: /dev/vfio/vfio, a new native container (`vfio_fops_open()`) unless
 * iommufd serves the node (CONFIG_IOMMUFD_VFIO_CONTAINER, header `env.vfio.container`), a
 * group's /dev/vfio/N, and a device's cdev /dev/vfio/devices/vfioN.
 */
import { chooseFd, installFile } from '../mm/files.ts';
import { type Call, type Result, ok } from '../model/command.ts';
import type { World } from '../model/world.ts';
import { isCdevPath, openCdev } from './cdev-file.ts';
import { isGroupPath, openGroup } from './group.ts';
import { newContainer } from './store.ts';

export const VFIO_CONTAINER_PATH = '/dev/vfio/vfio';

/** A path OPEN models under /dev/vfio. */
export const isVfioPath = (path: string): boolean => path === VFIO_CONTAINER_PATH || isGroupPath(path) || isCdevPath(path);

/** Whether VFIO itself answers an open of `path` (iommufd answers /dev/vfio/vfio when it provides the node). */
export const servedByVfio = (world: World, path: string): boolean =>
  isGroupPath(path) || isCdevPath(path) || (path === VFIO_CONTAINER_PATH && world.vfio.config.container === 'native');

export function openVfio(call: Call, path: string): Result {
  if (isCdevPath(path)) return openCdev(call, path);
  if (path !== VFIO_CONTAINER_PATH) return openGroup(call, path);
  const fd = chooseFd(call.process, call.choices, 'fd');
  const made = newContainer(call.world);
  return ok(installFile(made.world, call.process.pid, fd, { kind: 'container', container: made.container.id }), { fd: BigInt(fd) });
}
