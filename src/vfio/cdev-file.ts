/**
 * A VFIO device's cdev file (format 1.1): /dev/vfio/devices/vfioN of the header device whose
 * `cdev` is N (`noiommu-vfioN` for a device without an IOMMU: `vfio_device_set_name()`), opened
 * any number of times (`vfio_device_fops_cdev_open()`), each open its own `struct
 * vfio_device_file`. Closing the one the device was bound through unbinds it
 * (`vfio_device_fops_release()` → `vfio_df_unbind_iommufd()`).
 */
import { putContext, releaseContext } from '../iommufd/main/context.ts';
import { closeDevice, unbindOps } from './device-ops.ts';
import { chooseFd, fileOf, installFile } from '../mm/files.ts';
import { type Call, type Result, ok, refuse } from '../model/command.ts';
import { fail } from '../model/fail.ts';
import { revise } from '../model/revise.ts';
import { hasNode } from '../kernel/profile.ts';
import type { OpenFile, World } from '../model/world.ts';

/** A cdev file as the model holds it. */
export type CdevFile = OpenFile & { readonly kind: 'vfio-cdev' };

const CDEV_PATH = /^\/dev\/vfio\/devices\/(noiommu-)?vfio([0-9]+)$/;

export const isCdevPath = (path: string): boolean => CDEV_PATH.test(path);

/** The node exists only for a device that has this index (ENOENT at the path walk). */
export function openCdev(call: Call, path: string): Result {
  const m = CDEV_PATH.exec(path);
  const index = m === null ? -1 : call.world.devices.findIndex((d) => d.cdev === Number(m[2]));
  const device = call.world.devices[index];
  if (m === null || device === undefined || (device.model.kind === 'noiommu') !== (m[1] !== undefined)) {
    return refuse(call, fail('ENOENT', 'do_sys_open', 'no such VFIO device node'));
  }
  if (!hasNode(call.world.config.kernel, 'vfio-cdev')) return refuse(call, fail('ENOENT', 'do_sys_open', 'no VFIO device cdev before 6.6'));
  const fd = chooseFd(call.process, call.choices, 'fd');
  return ok(installFile(call.world, call.process.pid, fd, { kind: 'vfio-cdev', device: index }), { fd: BigInt(fd) });
}

/** The event's fd, when it is a device cdev file. */
export function cdevFileOf(call: Call): CdevFile | null {
  const file = call.event.fd === undefined ? undefined : fileOf(call.world, call.process, call.event.fd);
  return file?.kind === 'vfio-cdev' ? file : null;
}

/**
 * `vfio_df_unbind_iommufd()`: nothing unless the device was bound through this file
 * (`df->access_granted`); else the device closes (`vfio_df_close()`: a PCI device revokes its
 * dma-bufs), `vfio_iommufd_physical_unbind()` detaches every PASID, then the RID, and unbinds
 * the DEVICE (an emulated device's access goes instead), and the file's reference on the
 * context goes (`iommufd_ctx_put()`).
 */
export function releaseCdevFile(world: World, file: CdevFile): World {
  const device = world.devices[file.device];
  const bound = device?.bound ?? null;
  if (device === undefined || bound === null || bound.file !== file.id) return world;
  const ctx = world.contexts.get(bound.ctx);
  if (ctx === undefined) throw new Error(`[iommufd-model] device ${device.model.name} is bound to released context ${bound.ctx}`);
  const closed = closeDevice(world, file.device);
  const unbound = releaseContext(putContext(closed, unbindOps(closed, ctx, device, bound.device)), bound.ctx);
  return revise(unbound, (d) => {
    d.devices = world.devices.map((each, i) => (i === file.device ? { ...each, bound: null, ridAttached: false, pasids: [] } : each));
  });
}
