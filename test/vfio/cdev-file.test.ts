/**
 * A device's cdev opened as a file (format 1.1): OPEN of /dev/vfio/devices/vfioN for the header
 * device whose `cdev` is N (vfio_device_fops_cdev_open()), the device ioctls on that fd, and the
 * unbind its last close does (vfio_device_fops_release() → vfio_df_unbind_iommufd()).
 */
import { describe, expect, it } from 'vitest';
import { HEADER, errnos, failedAt, runTrace } from '../harness.ts';

const DEVICES = {
  ...HEADER,
  env: {
    ...HEADER.env,
    devices: [
      { name: 'vf0', kind: 'vtd', cdev: 4, group: 7, max_pasid_log2: 20 },
      { name: 'vf1', kind: 'vtd', cdev: 5, group: 8 },
      { name: 'nio', kind: 'noiommu', cdev: 6, group: 9 },
    ],
    vfio: { drivers: ['type1', 'noiommu'] },
    params: { 'vfio.enable_unsafe_noiommu_mode': true },
  },
};
const open = (path: string) => ({ op: 'OPEN', args: { path } });
const run = (events: readonly object[]) => runTrace(events, DEVICES);

/** /dev/iommu as fd 3, IOAS 1, vf0's cdev as fd 4 bound as device 2. */
const BOUND = [open('/dev/iommu'), { op: 'IOAS_ALLOC' }, open('/dev/vfio/devices/vfio4'), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { iommufd: 3 } }];

describe('OPEN of /dev/vfio/devices/vfioN', () => {
  it("opens the header device whose cdev is N, a new fd each time (each open its own vfio_device_file)", () => {
    const ran = run([open('/dev/vfio/devices/vfio4'), open('/dev/vfio/devices/vfio4')]);
    expect(ran.map((r) => r.out)).toEqual([{ fd: 3n }, { fd: 4n }]);
  });
  it('a number no device has is no node → ENOENT; a no-IOMMU device is noiommu-vfioN, and only that', () => {
    const ran = run([open('/dev/vfio/devices/vfio9'), open('/dev/vfio/devices/noiommu-vfio4'), open('/dev/vfio/devices/vfio6'), open('/dev/vfio/devices/noiommu-vfio6')]);
    expect(errnos(ran)).toEqual(['ENOENT', 'ENOENT', 'ENOENT', 'ok']);
    failedAt(ran[0], 'ENOENT do_sys_open: no such VFIO device node');
  });
});

describe('device ioctls on an opened cdev', () => {
  it('bind, attach and detach need no dev: the fd names the device', () => {
    const ran = run([...BOUND, { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 4, args: { pt_id: 1 } }, { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 4 }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ran[3]?.out).toEqual({ out_devid: 2n });
    expect(ran[4]?.out).toEqual({ pt_id: 3n });
  });
  it('a dev naming the fd\'s own device is the same call', () => {
    const ran = run([...BOUND.slice(0, 3), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { dev: 'vf0', iommufd: 3 } }]);
    expect(ran[3]?.out).toEqual({ out_devid: 2n });
  });
  it('a dev naming another device is malformed input', () => {
    expect(() => run([...BOUND.slice(0, 3), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { dev: 'vf1', iommufd: 3 } }])).toThrow(
      'dev "vf1" is not the device of cdev fd 4 (vf0)',
    );
  });
  it('a second open of the cdev is another file: the device is bound through the first (vfio_df_open: EINVAL)', () => {
    const ran = run([...BOUND, open('/dev/vfio/devices/vfio4'), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 5, args: { iommufd: 3 } }, { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 5, args: { pt_id: 1 } }]);
    failedAt(ran[5], 'EINVAL vfio_df_open: device opened through another cdev fd');
    failedAt(ran[6], 'EINVAL vfio_device_fops_unl_ioctl: the cdev fd is not bound');
  });
  it('binding the same cdev file twice → EINVAL', () => {
    failedAt(run([...BOUND, { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { iommufd: 3 } }])[4], 'EINVAL vfio_df_ioctl_bind_iommufd: this cdev fd is already bound');
  });
});

describe('CLOSE of a cdev (vfio_device_fops_release → vfio_df_unbind_iommufd)', () => {
  it('unbinds the device bound through it: its attachment and DEVICE go, and the IOAS is free', () => {
    const ran = run([...BOUND, { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 4, args: { pt_id: 1 } }, { op: 'DESTROY', args: { id: 1 } }, { op: 'CLOSE', args: { fd: 4 } }, { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran.slice(4))).toEqual(['ok', 'EBUSY', 'ok', 'ok']);
    const world = ran[7]?.outcome.world;
    expect(world?.devices[0]?.bound).toBeNull();
    expect([...(world?.contexts.values() ?? [])][0]?.objects.size).toBe(0);
  });
  it('drops the context the bind held: with /dev/iommu closed first, the context goes with the cdev', () => {
    const ran = run([...BOUND, { op: 'CLOSE', args: { fd: 3 } }, { op: 'CLOSE', args: { fd: 4 } }]);
    expect(ran[4]?.outcome.world.contexts.size).toBe(1);
    expect(ran[5]?.outcome.world.contexts.size).toBe(0);
  });
  it('closing another open of the cdev leaves the binding alone', () => {
    const ran = run([...BOUND, open('/dev/vfio/devices/vfio4'), { op: 'CLOSE', args: { fd: 5 } }, { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 4, args: { pt_id: 1 } }]);
    expect(errnos(ran.slice(4))).toEqual(['ok', 'ok', 'ok']);
  });
  it('after the close the device can be bound again, through a new open', () => {
    const ran = run([...BOUND, { op: 'CLOSE', args: { fd: 4 } }, open('/dev/vfio/devices/vfio4'), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { iommufd: 3 } }]);
    expect(errnos(ran.slice(4))).toEqual(['ok', 'ok', 'ok']);
  });
});
