/**
 * VFIO groups (drivers/vfio/group.c): OPEN of /dev/vfio/N, VFIO_GROUP_GET_STATUS,
 * VFIO_GROUP_SET_CONTAINER (on the group fd, and the format's version 1 form on the container
 * fd), VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD and the device fd it opens, the
 * exclusion of a group and its devices' cdevs, a group joining an iommufd (a legacy VFIO
 * user on an iommufd kernel, drivers/iommu/iommufd/vfio_compat.c), and what group ioctls do on
 * other files and other ioctl numbers on a group.
 */
import { describe, expect, it } from 'vitest';
import type { Ioas } from '../../src/model/world.ts';
import { type Ran, errnos, failedAt, runTrace } from '../harness.ts';
import { CONTAINER, HOST, checkExtension, host, mapDma, open, setContainer, setIommu } from './native-fixtures.ts';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const ret = (r: Ran | undefined) => r?.outcome.result?.ret;
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);
const after = (prologue: readonly object[], events: readonly object[], header: object = HOST): Ran[] =>
  runTrace([...prologue, ...events], header).slice(prologue.length);
const status = (fd?: number, args: object | null = {}) => ({ op: 'VFIO_GROUP_GET_STATUS', ...(fd === undefined ? {} : { fd }), args });
const deviceFd = (dev: string, fd?: number) => ({ op: 'VFIO_GROUP_GET_DEVICE_FD', ...(fd === undefined ? {} : { fd }), args: { dev } });
const unset = (fd?: number) => ({ op: 'VFIO_GROUP_UNSET_CONTAINER', ...(fd === undefined ? {} : { fd }) });

describe('OPEN of /dev/vfio/N (vfio_group_fops_open)', () => {
  it('a group no header device is in has no node (ENOENT)', () => {
    failedAt(runTrace([open('/dev/vfio/99')], HOST)[0], 'ENOENT do_sys_open: no such VFIO group node');
  });
  it('a group is open once at a time (EBUSY), again after its fd is closed', () => {
    const ran = runTrace([open('/dev/vfio/7'), open('/dev/vfio/7'), { op: 'CLOSE', args: { fd: 3 } }, open('/dev/vfio/7')], HOST);
    expect(checks(ran)).toEqual(['ok', 'EBUSY vfio_group_fops_open: the group is open already', 'ok', 'ok']);
  });
  it('a group whose device is bound through its cdev cannot be opened (EBUSY), and the reverse', () => {
    const bind = (dev: string) => ({ op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 0, args: { dev, iommufd: 3 } });
    const ran = runTrace([open('/dev/iommu'), bind('0000:01:00.1'), open('/dev/vfio/7'), open('/dev/vfio/8'), bind('0000:02:00.0')], HOST);
    expect(checks(ran)).toEqual([
      'ok',
      'ok',
      'EBUSY vfio_group_fops_open: a device of the group is open through its cdev',
      'ok',
      "EBUSY vfio_device_block_group: the device's group is open",
    ]);
  });
});

describe('VFIO_GROUP_GET_STATUS (vfio_group_ioctl_get_status)', () => {
  it('a NULL argument → EFAULT; argsz below offsetofend(flags) → EINVAL', () => {
    const ran = after([open('/dev/vfio/7')], [status(3, null), status(3, { argsz: 7 })]);
    expect(checks(ran)).toEqual([
      'EFAULT vfio_group_ioctl_get_status: copy_from_user of a NULL argument',
      'EINVAL vfio_group_ioctl_get_status: argsz below minsz',
    ]);
  });
  it('VIABLE; VIABLE and CONTAINER_SET once attached; an event without fd goes to the lowest group fd', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [status(), setContainer(4, 3), status(4)]);
    expect([ran[0]?.out, ran[2]?.out]).toEqual([{ flags: 1n }, { flags: 3n }]);
  });
  it('no group fd open → EBADF', () => {
    failedAt(after([open('/dev/vfio/vfio')], [status()])[0], 'EBADF fdget: no VFIO group fd open');
  });
});

describe('group ioctls on other files, and raw numbers on a group fd (vfio_group_fops_unl_ioctl)', () => {
  const raw = (cmd: string, fd: number, arg?: null) => ({ op: 'IOCTL', fd, args: { cmd, ...(arg === undefined ? {} : { arg }) } });
  it('a container without a driver passes a group ioctl on as an unknown one (EINVAL); iommufd and other files → ENOTTY', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/iommu')], [status(3), unset(3), status(4), deviceFd('0000:01:00.0', 0)]);
    expect(checks(ran)).toEqual([
      'EINVAL vfio_fops_unl_ioctl: no IOMMU driver is set',
      'EINVAL vfio_fops_unl_ioctl: no IOMMU driver is set',
      'ENOTTY iommufd_vfio_ioctl: not a container ioctl',
      'ENOTTY vfs_ioctl: the fd is not a VFIO group',
    ]);
  });
  it('a container with type1 gives its driver the group ioctl, which does not know it (ENOTTY)', () => {
    const ran = after(CONTAINER('TYPE1v2_IOMMU'), [status(3), deviceFd('0000:01:00.0', 3), { op: 'VFIO_GROUP_SET_CONTAINER', fd: 3, args: { container_fd: 3 } }, raw('0x3b67', 3)]);
    expect(checks(ran)).toEqual(Array(4).fill('ENOTTY vfio_iommu_type1_ioctl: not an ioctl of the driver'));
  });
  it('a group number runs the group ioctl on zeroed memory: argsz 0 (EINVAL), an empty name (ENODEV), container fd 0 (EBADFD); NULL faults', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [
      raw('0x3b67', 4),
      raw('0x3b67', 4, null),
      raw('0x3b6a', 4),
      raw('0x3b6a', 4, null),
      raw('0x3b68', 4),
      raw('0x3b68', 4, null),
      raw('0x3b69', 4),
    ]);
    expect(checks(ran)).toEqual([
      'EINVAL vfio_group_ioctl_get_status: argsz below minsz',
      'EFAULT vfio_group_ioctl_get_status: copy_from_user of a NULL argument',
      'ENODEV vfio_device_get_from_name: no device of the group has this name',
      'EFAULT strndup_user: a NULL name',
      'EBADFD vfio_group_ioctl_set_container: neither a container nor an iommufd',
      'EFAULT vfio_group_ioctl_set_container: get_user of a NULL argument',
      'EINVAL vfio_group_ioctl_unset_container: the group is not attached',
    ]);
  });
  it('SET_CONTAINER by number attaches the container whose fd is 0; UNSET by number lets it go', () => {
    const ran = after([{ op: 'CLOSE', args: { fd: 0 } }, open('/dev/vfio/vfio'), open('/dev/vfio/7')], [raw('0x3b68', 3), status(3), raw('0x3b69', 3), status(3)]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([ran[1]?.out, ran[3]?.out]).toEqual([{ flags: 3n }, { flags: 1n }]);
  });
  it('any other number, a container\'s or iommufd\'s, or an iommufd op by name → ENOTTY', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [raw('0x3b64', 4), raw('0x3b80', 4), raw('0x80043b67', 4), { op: 'IOAS_ALLOC', fd: 4 }, { op: 'VFIO_IOMMU_MAP_DMA', fd: 4, args: {} }]);
    expect(checks(ran)).toEqual(Array(5).fill('ENOTTY vfio_group_fops_unl_ioctl: not an ioctl of a group'));
  });
});

describe('VFIO_GROUP_SET_CONTAINER and UNSET_CONTAINER (vfio_group_ioctl_set_container, _unset_container)', () => {
  it('a NULL argument → EFAULT; a container fd not open → EBADF; neither container nor iommufd → EBADFD', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [
      { op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: null },
      setContainer(4, 9),
      setContainer(4, 0),
    ]);
    expect(checks(ran)).toEqual([
      'EFAULT vfio_group_ioctl_set_container: get_user of a NULL argument',
      'EBADF vfio_group_ioctl_set_container: the container fd is not open',
      'EBADFD vfio_group_ioctl_set_container: neither a container nor an iommufd',
    ]);
  });
  it('a group attached already → EINVAL, even to another container', () => {
    const ran = after([...CONTAINER(3), open('/dev/vfio/vfio')], [setContainer(4, 5), setContainer(4, 3)]);
    expect(errnos(ran)).toEqual(['EINVAL', 'EINVAL']);
  });
  it('the version 1 form: on the container fd with the group number', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [{ op: 'VFIO_GROUP_SET_CONTAINER', args: { group: 7 } }, status(4), { op: 'VFIO_GROUP_SET_CONTAINER', fd: 3, args: { group: 8 } }]);
    expect(checks(ran)).toEqual(['ok', 'ok', 'EBADF fdget: group 8 is not open in the process']);
    expect(ran[1]?.out).toEqual({ flags: 3n });
  });
  it('on a group fd the group is the fd\'s, whatever `group` says', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [{ op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: { group: 8, container_fd: 3 } }, status(4)]);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    expect(ran[1]?.out).toEqual({ flags: 3n });
  });
  it('UNSET of a group not attached → EINVAL; with a device fd open → EBUSY; after it closes, ok', () => {
    const ran = after([...CONTAINER(3)], [deviceFd('0000:01:00.0', 4), unset(4), { op: 'CLOSE', args: { fd: 5 } }, unset(4), unset(4)]);
    expect(checks(ran)).toEqual([
      'ok',
      'EBUSY vfio_group_ioctl_unset_container: a device is open through the group',
      'ok',
      'ok',
      'EINVAL vfio_group_ioctl_unset_container: the group is not attached',
    ]);
  });
  it('a group owned by an iommufd (a device bound through its group, then the group let go) → EPERM', () => {
    const ran = after(
      [open('/dev/iommu'), open('/dev/vfio/7'), setContainer(4, 3), setIommu(3, 3), deviceFd('0000:01:00.0', 4), unset(4), open('/dev/vfio/vfio')],
      [setContainer(4, 6)],
    );
    failedAt(ran[0], 'EPERM iommu_group_claim_dma_owner: the group is owned by an iommufd');
  });
});

describe('VFIO_GROUP_GET_DEVICE_FD (vfio_group_ioctl_get_device_fd) and the device fd', () => {
  it('a NULL name → EFAULT; a name longer than a page → EINVAL; no device of the group by that name → ENODEV', () => {
    const ran = after(CONTAINER(3), [
      { op: 'VFIO_GROUP_GET_DEVICE_FD', fd: 4, args: null },
      deviceFd('x'.repeat(4096), 4),
      deviceFd('0000:02:00.0', 4),
      deviceFd('nope', 4),
    ]);
    expect(checks(ran)).toEqual([
      'EFAULT strndup_user: a NULL name',
      'EINVAL strndup_user: the name does not fit in a page',
      'ENODEV vfio_device_get_from_name: no device of the group has this name',
      'ENODEV vfio_device_get_from_name: no device of the group has this name',
    ]);
  });
  it('a group not attached → EINVAL; attached before VFIO_SET_IOMMU → EINVAL (vfio_group_use_container)', () => {
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7')], [deviceFd('0000:01:00.0', 4), setContainer(4, 3), deviceFd('0000:01:00.0', 4)]);
    expect(checks(ran)).toEqual([
      'EINVAL vfio_df_group_open: the group is not attached',
      'ok',
      'EINVAL vfio_group_use_container: no IOMMU driver is set',
    ]);
  });
  it('the new fd is the return value, a free choice: recorded when legal, else the lowest free', () => {
    const ran = after(CONTAINER(3), [{ ...deviceFd('0000:01:00.0', 4), expect: { out: { ret: 9 } } }, deviceFd('0000:01:00.0', 4), deviceFd('0000:01:00.1', 4)]);
    expect(ran.map(ret)).toEqual([9n, 5n, 6n]);
  });
  it('a device fd holds the group file: closing the group fd keeps the container and its pins', () => {
    const ran = after([...CONTAINER(3), mapDma(IOVA, 4n * PAGE), deviceFd('0000:01:00.0', 4)], [{ op: 'CLOSE', args: { fd: 4 } }, open('/dev/vfio/7'), { op: 'CLOSE', args: { fd: 5 } }, open('/dev/vfio/7')]);
    expect(errnos(ran)).toEqual(['ok', 'EBUSY', 'ok', 'ok']);
    expect(ran[0]?.outcome.world.processes.get(1)?.lockedVm).toBe(4n);
    expect(ran[2]?.outcome.world.processes.get(1)?.lockedVm).toBe(0n);
  });
  it('on a device fd from a group, BIND_IOMMUFD → EINVAL and the cdev-only ATTACH/DETACH reach vfio-pci (ENOTTY)', () => {
    const ran = after([...CONTAINER(3), open('/dev/iommu'), deviceFd('0000:01:00.0', 4)], [
      { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 6, args: { dev: '0000:01:00.0', iommufd: 5 } },
      { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 6, args: { dev: '0000:01:00.0', pt_id: 1 } },
      { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 6, args: { dev: '0000:01:00.0' } },
      { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 1, args: { dev: '0000:01:00.0', iommufd: 5 } },
    ]);
    expect(checks(ran)).toEqual([
      'EINVAL vfio_df_ioctl_bind_iommufd: a device fd from a group',
      'ENOTTY vfio_pci_core_ioctl: a cdev-only ioctl on a device fd from a group',
      'ENOTTY vfio_pci_core_ioctl: a cdev-only ioctl on a device fd from a group',
      "EBUSY vfio_device_block_group: the device's group is open",
    ]);
  });
});

describe('a group on an iommufd: legacy VFIO on iommufd (iommufd_vfio_compat_ioas_create)', () => {
  const ON_IOMMUFD = [open('/dev/iommu'), open('/dev/vfio/7'), setContainer(4, 3)];
  const ioasOf = (r: Ran | undefined, id: number) => r?.outcome.world.contexts.get(1)?.objects.get(id) as Ioas | undefined;
  it('SET_CONTAINER makes a compat IOAS (the lowest free id) and holds the context', () => {
    const ran = after(ON_IOMMUFD, [{ op: 'VFIO_IOAS', args: { op: 'GET' } }, { op: 'CLOSE', args: { fd: 3 } }]);
    expect(ran[0]?.out).toEqual({ ioas_id: 1n });
    expect(ran[1]?.outcome.world.contexts.size).toBe(1);
  });
  it('a compat IOAS set already is kept', () => {
    const ran = after([open('/dev/iommu'), { op: 'IOAS_ALLOC' }, { op: 'IOAS_ALLOC' }, { op: 'VFIO_IOAS', args: { ioas_id: 2, op: 'SET' } }, open('/dev/vfio/7'), setContainer(4, 3)], [{ op: 'VFIO_IOAS', args: { op: 'GET' } }]);
    expect(ran[0]?.out).toEqual({ ioas_id: 2n });
  });
  it('QEMU\'s legacy sequence: TYPE1v2 on the iommufd, a device fd bound and attached to the compat IOAS, maps pinned', () => {
    const ran = after(ON_IOMMUFD, [
      setIommu('TYPE1v2_IOMMU'),
      deviceFd('0000:01:00.0', 4),
      mapDma(IOVA, 4n * PAGE),
      { op: 'CHECK', args: { what: 'pinned_vm', value: '0x4000' } },
      { op: 'CLOSE', args: { fd: 5 } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ret(ran[1])).toBe(5n);
    expect(ioasOf(ran[2], 1)?.domains.length).toBe(1);
    const device = ran[2]?.outcome.world.devices[0];
    expect([device?.bound?.ctx, device?.ridAttached]).toEqual([1, true]);
    expect(ran[4]?.outcome.world.devices[0]?.bound).toBeNull();
  });
  it('a device of a group whose MSIs are not isolated opens only with iommufd.allow_unsafe_interrupts (EPERM, iommufd_device_bind)', () => {
    const devices = [{ name: 'a', kind: 'k', group: 7 }, { name: 'b', kind: 'k', group: 7, msi_isolated: false }];
    failedAt(after(ON_IOMMUFD, [deviceFd('a', 4)], host({ devices }))[0], 'EPERM iommufd_device_bind: MSIs are not isolated and allow_unsafe_interrupts is off');
    expect(errnos(after(ON_IOMMUFD, [deviceFd('a', 4)], host({ devices, params: { 'iommufd.allow_unsafe_interrupts': 1 } })))).toEqual(['ok']);
  });
  it('the compat IOAS destroyed before the device opens → ENODEV (iommufd_vfio_compat_ioas_get_id)', () => {
    const ran = after(ON_IOMMUFD, [{ op: 'DESTROY', args: { id: 1 } }, deviceFd('0000:01:00.0', 4)]);
    failedAt(ran[1], 'ENODEV get_compat_ioas: no compat IOAS is set');
  });
  it('UNSET lets the iommufd go even with a device open; the device stays bound', () => {
    const ran = after([...ON_IOMMUFD, deviceFd('0000:01:00.0', 4)], [unset(4), status(4)]);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    expect(ran[1]?.out).toEqual({ flags: 0n });
  });
  it('a no-IOMMU group puts the context in no-IOMMU mode: SET_IOMMU takes NOIOMMU only, with CAP_SYS_RAWIO', () => {
    const header = host(
      { vfio: { container: 'iommufd', drivers: ['noiommu', 'type1'] }, params: { 'vfio.enable_unsafe_noiommu_mode': 'Y' }, devices: [{ name: 'bare', kind: 'noiommu', group: 9 }] },
      [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: ['CAP_SYS_RAWIO'] }],
    );
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/noiommu-9')], [
      setContainer(4, 3),
      checkExtension('NOIOMMU_IOMMU'),
      setIommu('TYPE1v2_IOMMU'),
      setIommu('NOIOMMU_IOMMU'),
      deviceFd('bare', 4),
      { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 5, args: { dev: 'bare', pt_id: 1 } },
    ], header);
    expect(checks(ran)).toEqual([
      'ok',
      'ok',
      'EINVAL iommufd_vfio_set_iommu: not a type1 iommu type, or the context is in no-IOMMU mode',
      'ok',
      'ok',
      'EINVAL vfio_device_fops_unl_ioctl: the device fd was not granted access',
    ]);
    expect(ret(ran[1])).toBe(1n);
  });
});
