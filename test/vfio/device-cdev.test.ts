/**
 * VFIO device cdev ioctls on header devices, one test per kernel check
 * (vfio_df_ioctl_bind_iommufd(), vfio_df_ioctl_attach_pt(), vfio_df_ioctl_detach_pt() of
 * device_cdev.c, vfio_iommufd_physical_*() of vfio/iommufd.c, iommufd_device_bind()).
 */
import { describe, expect, it } from 'vitest';
import { type Ran, HEADER, errnos, afterPrologue, refused } from '../harness.ts';

const DEVICES = {
  ...HEADER,
  env: {
    ...HEADER.env,
    devices: [
      { name: 'vf0', kind: 'vtd', max_pasid_log2: 20, group: 7 },
      { name: 'vf1', kind: 'vtd', group: 7 },
      { name: 'mock0', kind: 'mock' },
    ],
  },
};
const bind = (dev: string, args: object = {}) => ({ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev, iommufd: 3, ...args } });
const attach = (args: object = {}, dev = 'vf0') => ({ op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev, ...args } });
const detach = (args: object = {}, dev = 'vf0') => ({ op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', args: { dev, ...args } });
/** fd 3, IOAS 1, vf0 bound as device 2. */
const BOUND = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, bind('vf0')];

const after = (events: readonly object[], prologue: readonly object[] = BOUND): Ran[] => afterPrologue(prologue, events, DEVICES);

const PRE = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }];

describe('VFIO_DEVICE_BIND_IOMMUFD (vfio_df_ioctl_bind_iommufd)', () => {
  it('a name no header device has is no VFIO device → ENOTTY', () => {
    refused(after([bind('nope')], PRE)[0], 'ENOTTY');
  });
  it('argsz below offsetofend(out_devid) → EINVAL', () => {
    refused(after([bind('vf0', { argsz: 15 })], PRE)[0], 'EINVAL');
  });
  it('non-zero bytes past the struct → E2BIG (copy_struct_from_user)', () => {
    refused(after([bind('vf0', { argsz: 25, __trailing: '0x01' })], PRE)[0], 'E2BIG');
  });
  it('a negative iommufd or an unknown flag → EINVAL', () => {
    refused(after([bind('vf0', { iommufd: -1 })], PRE)[0], 'EINVAL');
    refused(after([bind('vf0', { flags: 2 })], PRE)[0], 'EINVAL');
  });
  it('a device already bound → EINVAL', () => {
    refused(after([bind('vf0')])[0], 'EINVAL');
  });
  it('a VF token for a device that takes none → EINVAL (vfio_df_check_token)', () => {
    refused(after([bind('vf0', { flags: ['TOKEN'] })], PRE)[0], 'EINVAL');
  });
  it('iommufd not an open fd → EBADF; not an iommufd → EBADFD (iommufd_ctx_from_fd)', () => {
    refused(after([bind('vf0', { iommufd: 9 })], PRE)[0], 'EBADF');
    refused(after([bind('vf0', { iommufd: 0 })], PRE)[0], 'EBADFD');
  });
  it('the device bound through another cdev fd: the iommufd is looked up first, then EINVAL (vfio_df_open)', () => {
    const pre = [{ op: 'OPEN' }, { ...bind('vf0'), fd: 0 }];
    refused(after([{ ...bind('vf0', { iommufd: 9 }), fd: 1 }], pre)[0], 'EBADF');
    refused(after([{ ...bind('vf0'), fd: 1 }], pre)[0], 'EINVAL');
    refused(after([{ ...attach({ pt_id: 1 }), fd: 1 }], pre)[0], 'EINVAL');
  });
  it('a group another context owns → EPERM (iommu_device_claim_dma_owner)', () => {
    refused(after([{ op: 'OPEN' }, bind('vf1', { iommufd: 4 })])[1], 'EPERM');
  });
  it('binds: one DEVICE id; devices of one group share it in one context', () => {
    const ran = after([bind('vf1'), bind('mock0')]);
    expect(ran[0]?.out).toEqual({ out_devid: 3n });
    expect(ran[1]?.out).toEqual({ out_devid: 4n });
  });
  it('a bound device keeps its context alive after /dev/iommu is closed', () => {
    const ran = after([{ op: 'CLOSE', args: { fd: 3 } }]);
    expect(ran[0]?.outcome.world.contexts.size).toBe(1);
  });
  it('the DEVICE cannot be destroyed by IOMMU_DESTROY → EBUSY', () => {
    expect(after([{ op: 'DESTROY', args: { id: 2 } }])[0]?.errno).toBe('EBUSY');
  });
});

describe('VFIO_DEVICE_ATTACH_IOMMUFD_PT (vfio_df_ioctl_attach_pt)', () => {
  it('a device not bound → EINVAL, before its argument is read', () => {
    refused(after([attach({ argsz: 0 })], PRE)[0], 'EINVAL');
  });
  it('argsz below offsetofend(pt_id) → EINVAL', () => {
    refused(after([attach({ argsz: 11 })])[0], 'EINVAL');
  });
  it('an unknown flag → EINVAL', () => {
    refused(after([attach({ pt_id: 1, flags: 2 })])[0], 'EINVAL');
  });
  it('PASID with argsz below offsetofend(pasid) → EINVAL', () => {
    refused(after([attach({ pt_id: 1, flags: ['PASID'], argsz: 12, pasid: 5 })])[0], 'EINVAL');
  });
  it('attaches the RID to an IOAS through an automatic HWPT, replacing it on a second attach', () => {
    const ran = after([attach({ pt_id: 1 }), { op: 'IOAS_ALLOC' }, attach({ pt_id: 4 }), { op: 'DESTROY', args: { id: 1 } }]);
    expect(ran[0]?.out).toEqual({ pt_id: 3n });
    // The second attach is a replace: IOAS 4's new HWPT 5 is made while 3 still holds the
    // device; 3 goes with its last attachment, and IOAS 1 is free again.
    expect(ran[2]?.out).toEqual({ pt_id: 5n });
    expect(ran[3]?.errno).toBe('ok');
  });
  it('a PASID needs a HWPT allocated for PASIDs; an IOAS gives EINVAL', () => {
    refused(after([attach({ pt_id: 1, flags: ['PASID'], pasid: 5 })])[0], 'EINVAL');
  });
  it('a PASID above INT_MAX cannot be recorded → ENOSPC (ida_alloc_range)', () => {
    refused(after([attach({ pt_id: 1, flags: ['PASID'], pasid: '0x80000000' })])[0], 'ENOSPC');
  });
  it('attaches a PASID, and replaces it on the next attach', () => {
    const pasidHwpt = { op: 'HWPT_ALLOC', args: { dev_id: 2, pt_id: 1, flags: ['PASID'] } };
    const ran = after([pasidHwpt, pasidHwpt, attach({ pt_id: 3, flags: ['PASID'], pasid: 5 }), attach({ pt_id: 4, flags: ['PASID'], pasid: 5 }), { op: 'DESTROY', args: { id: 3 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ran[3]?.out).toEqual({ pt_id: 4n });
  });
});

describe('VFIO_DEVICE_DETACH_IOMMUFD_PT (vfio_df_ioctl_detach_pt)', () => {
  it('a device not bound → EINVAL', () => {
    refused(after([detach()], PRE)[0], 'EINVAL');
  });
  it('argsz below offsetofend(flags) → EINVAL; an unknown flag → EINVAL', () => {
    refused(after([detach({ argsz: 7 })])[0], 'EINVAL');
    refused(after([detach({ flags: 2 })])[0], 'EINVAL');
  });
  it('PASID with argsz below offsetofend(pasid) → EINVAL', () => {
    refused(after([detach({ flags: ['PASID'], argsz: 8 })])[0], 'EINVAL');
  });
  it('detaching what is not attached is a no-op success', () => {
    const [r] = after([detach()]);
    expect(r?.errno).toBe('ok');
    expect(r?.outcome.world).toBe(r?.before);
  });
  it('detaches the RID; its automatic HWPT goes with it', () => {
    const ran = after([attach({ pt_id: 1 }), detach(), { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok']);
  });
});
