/**
 * VFIO device cdev ioctls on header devices, one test per kernel check
 * (vfio_df_ioctl_bind_iommufd(), vfio_df_ioctl_attach_pt(), vfio_df_ioctl_detach_pt() of
 * device_cdev.c, vfio_iommufd_physical_*() of vfio/iommufd.c, iommufd_device_bind()).
 */
import { describe, expect, it } from 'vitest';
import { type Ran, HEADER, errnos, afterPrologue, failedAt } from '../harness.ts';

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
    failedAt(after([bind('nope')], PRE)[0], 'ENOTTY vfs_ioctl: the fd is not a vfio device cdev');
  });
  it('argsz below offsetofend(out_devid) → EINVAL', () => {
    failedAt(after([bind('vf0', { argsz: 15 })], PRE)[0], 'EINVAL vfio_df_ioctl_bind_iommufd: size is below the minimum');
  });
  it('non-zero bytes past the struct → E2BIG (copy_struct_from_user)', () => {
    failedAt(after([bind('vf0', { argsz: 25, __trailing: '0x01' })], PRE)[0], 'E2BIG copy_struct_from_user: non-zero bytes past the kernel struct');
  });
  it('a negative iommufd or an unknown flag → EINVAL', () => {
    failedAt(after([bind('vf0', { iommufd: -1 })], PRE)[0], 'EINVAL vfio_df_ioctl_bind_iommufd: negative iommufd or flags has unknown bits');
    failedAt(after([bind('vf0', { flags: 2 })], PRE)[0], 'EINVAL vfio_df_ioctl_bind_iommufd: negative iommufd or flags has unknown bits');
  });
  it('a device already bound → EINVAL', () => {
    failedAt(after([bind('vf0')])[0], 'EINVAL vfio_df_ioctl_bind_iommufd: this cdev fd is already bound');
  });
  it('a VF token for a device that takes none → EINVAL (vfio_df_check_token)', () => {
    failedAt(after([bind('vf0', { flags: ['TOKEN'] })], PRE)[0], 'EINVAL vfio_df_check_token: a token for a device that takes none');
  });
  it('iommufd not an open fd → EBADF; not an iommufd → EBADFD (iommufd_ctx_from_fd)', () => {
    failedAt(after([bind('vf0', { iommufd: 9 })], PRE)[0], 'EBADF iommufd_ctx_from_fd: the fd is not open');
    failedAt(after([bind('vf0', { iommufd: 0 })], PRE)[0], 'EBADFD iommufd_ctx_from_fd: the fd is not an iommufd');
  });
  it('the device bound through another cdev fd: the iommufd is looked up first, then EINVAL (vfio_df_open)', () => {
    const pre = [{ op: 'OPEN' }, { ...bind('vf0'), fd: 0 }];
    failedAt(after([{ ...bind('vf0', { iommufd: 9 }), fd: 1 }], pre)[0], 'EBADF iommufd_ctx_from_fd: the fd is not open');
    failedAt(after([{ ...bind('vf0'), fd: 1 }], pre)[0], 'EINVAL vfio_df_open: device opened through another cdev fd');
    failedAt(after([{ ...attach({ pt_id: 1 }), fd: 1 }], pre)[0], 'EINVAL vfio_device_fops_unl_ioctl: the cdev fd is not bound');
  });
  it('a group another context owns → EPERM (iommu_device_claim_dma_owner)', () => {
    failedAt(after([{ op: 'OPEN' }, bind('vf1', { iommufd: 4 })])[1], 'EPERM iommu_device_claim_dma_owner: the group is owned by another context');
  });
  it('a group whose MSIs are not isolated binds only with iommufd.allow_unsafe_interrupts (EPERM, iommufd_device_bind); a mock device is not asked', () => {
    const unsafe = (params: object) => ({
      ...DEVICES,
      env: { ...DEVICES.env, params, devices: [{ name: 'vf0', kind: 'vtd', group: 7 }, { name: 'vf1', kind: 'vtd', group: 7, msi_isolated: false }, { name: 'pf', kind: 'vtd' }, { name: 'mock0', kind: 'mock', msi_isolated: false }] },
    });
    const ran = afterPrologue(PRE, [bind('vf0'), bind('pf'), bind('mock0')], unsafe({}));
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual(['EPERM iommufd_device_bind: MSIs are not isolated and allow_unsafe_interrupts is off', 'ok', 'ok']);
    expect(errnos(afterPrologue(PRE, [bind('vf0')], unsafe({ 'iommufd.allow_unsafe_interrupts': true })))).toEqual(['ok']);
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
    failedAt(after([{ op: 'DESTROY', args: { id: 2 } }])[0], 'EBUSY iommufd_object_remove: object still has users');
  });
});

describe('VFIO_DEVICE_ATTACH_IOMMUFD_PT (vfio_df_ioctl_attach_pt)', () => {
  it('a device not bound → EINVAL, before its argument is read', () => {
    failedAt(after([attach({ argsz: 0 })], PRE)[0], 'EINVAL vfio_device_fops_unl_ioctl: the cdev fd is not bound');
  });
  it('argsz below offsetofend(pt_id) → EINVAL', () => {
    failedAt(after([attach({ argsz: 11 })])[0], 'EINVAL vfio_df_ioctl_attach_pt: argsz below minsz');
  });
  it('an unknown flag → EINVAL', () => {
    failedAt(after([attach({ pt_id: 1, flags: 2 })])[0], 'EINVAL vfio_df_ioctl_attach_pt: flags has unknown bits');
  });
  it('PASID with argsz below offsetofend(pasid) → EINVAL', () => {
    failedAt(after([attach({ pt_id: 1, flags: ['PASID'], argsz: 12, pasid: 5 })])[0], 'EINVAL vfio_df_ioctl_attach_pt: argsz too small for pasid');
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
    failedAt(after([attach({ pt_id: 1, flags: ['PASID'], pasid: 5 })])[0], 'EINVAL iommufd_hwpt_pasid_compat: hwpt not pasid compatible');
  });
  it('a PASID above INT_MAX cannot be recorded → ENOSPC (ida_alloc_range)', () => {
    failedAt(after([attach({ pt_id: 1, flags: ['PASID'], pasid: '0x80000000' })])[0], 'ENOSPC ida_alloc_range: pasid above INT_MAX');
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
    failedAt(after([detach()], PRE)[0], 'EINVAL vfio_device_fops_unl_ioctl: the cdev fd is not bound');
  });
  it('argsz below offsetofend(flags) → EINVAL; an unknown flag → EINVAL', () => {
    failedAt(after([detach({ argsz: 7 })])[0], 'EINVAL vfio_df_ioctl_detach_pt: argsz below minsz');
    failedAt(after([detach({ flags: 2 })])[0], 'EINVAL vfio_df_ioctl_detach_pt: flags has unknown bits');
  });
  it('PASID with argsz below offsetofend(pasid) → EINVAL', () => {
    failedAt(after([detach({ flags: ['PASID'], argsz: 8 })])[0], 'EINVAL vfio_df_ioctl_detach_pt: argsz too small for pasid');
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
