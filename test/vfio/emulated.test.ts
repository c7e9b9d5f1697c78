/**
 * Emulated (mediated) devices on iommufd, as drivers/vfio/iommufd.c's
 * `vfio_iommufd_emulated_*()` bind, attach, detach and unbind them through an in-kernel access
 * (drivers/iommu/iommufd/device.c), and the pins their drivers take through VFIO
 * (`vfio_pin_pages()`, `vfio_unpin_pages()` of drivers/vfio/vfio_main.c).
 */
import { describe, expect, it } from 'vitest';
import { checkWorld } from '../../src/invariants/invariants.ts';
import type { World } from '../../src/model/world.ts';
import { type Ran, errnos, failedAt, runTrace } from '../harness.ts';

/** An unprivileged QEMU (uid 1000, 1 MiB of memlock) with an mdev, a physical device, and another mdev with a group. */
const HOST = {
  trace: 'iommufd',
  version: '1.1',
  env: {
    memory: 'any',
    processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x100000', caps: [] }],
    devices: [
      { name: 'ap0', kind: 'emulated', cdev: 4, group: 20 },
      { name: 'vf0', kind: 'vtd', cdev: 5, group: 21 },
      { name: 'mtty', kind: 'emulated', group: 22 },
    ],
    vfio: { container: 'iommufd' },
  },
};
const open = (path: string) => ({ op: 'OPEN', args: { path } });
const run = (events: readonly object[]) => runTrace(events, HOST);
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);
const GUEST_RAM = '0x7f0000000000';
const map = (length: string, iova = '0', flags: string[] = ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], ioas = 2) => ({
  op: 'IOAS_MAP',
  fd: 4,
  args: { ioas_id: ioas, flags, user_va: GUEST_RAM, length, iova },
});
const pin = (iova: string, npage: number, prot: string[] = ['READ', 'WRITE']) => ({ op: 'VFIO_PIN_PAGES', args: { dev: 'ap0', iova, npage, prot } });
const unpin = (iova: string, npage: number) => ({ op: 'VFIO_UNPIN_PAGES', args: { dev: 'ap0', iova, npage } });
const attach = (ptId: number, more: object = {}) => ({ op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 3, args: { pt_id: ptId, ...more } });

/** ap0's cdev as fd 3, /dev/iommu as fd 4, ap0 bound (device id 1, its access), IOAS 2. */
const BOUND = [open('/dev/vfio/devices/vfio4'), open('/dev/iommu'), { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } }, { op: 'IOAS_ALLOC', fd: 4 }];
/** ... attached to IOAS 2, which maps 8 GiB of guest RAM at IOVA 0. */
const MAPPED = [...BOUND, attach(2), map('0x200000000')];

const locked = (world: World | undefined): bigint | undefined => world?.userLockedVm.get(1000) ?? 0n;
const pinned = (world: World | undefined): bigint | undefined => world?.processes.get(1)?.pinnedVm;

describe('binding an emulated device creates an access, not a DEVICE (vfio_iommufd_emulated_bind)', () => {
  it('its device id is the access object: the DEVICE lookups of GET_HW_INFO and HWPT_ALLOC find none (ENOENT)', () => {
    const ran = run([...BOUND, { op: 'GET_HW_INFO', fd: 4, args: { dev_id: 1 } }, { op: 'HWPT_ALLOC', fd: 4, args: { dev_id: 1, pt_id: 2 } }]);
    expect(ran[2]?.out).toEqual({ out_devid: 1n });
    expect(ran[2]?.outcome.world.contexts.get(1)?.objects.get(1)?.type).toBe('access');
    expect(checks(ran.slice(4))).toEqual(['ENOENT iommufd_get_object: no device with this id', 'ENOENT iommufd_get_object: no device with this id']);
  });
  it('the driver holds the access: IOMMU_DESTROY of its id is EBUSY', () => {
    failedAt(run([...BOUND, { op: 'DESTROY', fd: 4, args: { id: 1 } }])[4], 'EBUSY iommufd_object_remove: object still has users');
  });
});

describe('attach and detach (vfio_iommufd_emulated_attach_ioas, _detach_ioas)', () => {
  it('attach takes an IOAS and gives its id back; a HWPT or nothing is ENOENT (iommufd_get_ioas)', () => {
    const ran = run([...BOUND, attach(9), attach(2)]);
    failedAt(ran[4], 'ENOENT iommufd_get_object: no IOAS with this id');
    expect(ran[5]?.out).toEqual({ pt_id: 2n });
  });
  it('the PASID flags are EOPNOTSUPP: an emulated driver has no pasid_attach_ioas or pasid_detach_ioas', () => {
    const ran = run([...BOUND, attach(2, { flags: ['PASID'], pasid: 1 }), { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 3, args: { flags: ['PASID'], pasid: 1 } }]);
    expect(checks(ran.slice(4))).toEqual([
      'EOPNOTSUPP vfio_df_ioctl_attach_pt: the driver has no pasid op',
      'EOPNOTSUPP vfio_df_ioctl_detach_pt: the driver has no pasid op',
    ]);
  });
  it('the access wants page-aligned IOVA (needs_pin_pages): an IOAS with an unaligned area refuses it (EADDRINUSE)', () => {
    const ran = run([...BOUND, map('0x800', '0x800'), attach(2), map('0x1000', '0x10800')]);
    failedAt(ran[5], 'EADDRINUSE iopt_check_iova_alignment: an area breaks the new alignment');
    const after = run([...BOUND, attach(2), map('0x1000', '0x10800')]);
    expect(after[5]?.errno).toBe('EINVAL');
  });
  it('replacing the IOAS drops the pins (ops->unmap of everything), the same IOAS keeps them', () => {
    const ran = run([...MAPPED, pin('0x1000', 2), attach(2), { op: 'IOAS_ALLOC', fd: 4 }, attach(3)]);
    expect([locked(ran[6]?.outcome.world), locked(ran[7]?.outcome.world), locked(ran[9]?.outcome.world)]).toEqual([2n, 2n, 0n]);
  });
  it('detach drops the pins and leaves the IOAS free; detaching again is 0', () => {
    const detach = { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 3 };
    const ran = run([...MAPPED, pin('0x1000', 2), detach, detach, { op: 'DESTROY', fd: 4, args: { id: 2 } }]);
    expect(errnos(ran.slice(7))).toEqual(['ok', 'ok', 'ok']);
    expect(locked(ran[7]?.outcome.world)).toBe(0n);
  });
  it('closing the cdev destroys the access and lets the context go', () => {
    const ran = run([...MAPPED, pin('0x1000', 2), { op: 'CLOSE', args: { fd: 3 } }, { op: 'DESTROY', fd: 4, args: { id: 2 } }, { op: 'CLOSE', args: { fd: 4 } }]);
    expect(errnos(ran.slice(7))).toEqual(['ok', 'ok', 'ok']);
    expect(ran[7]?.outcome.world.contexts.get(1)?.objects.has(1)).toBe(false);
    expect(ran[9]?.outcome.world.contexts.size).toBe(0);
  });
});

describe('nothing is pinned until the driver pins (vfio_pin_pages → iommufd_access_pin_pages)', () => {
  it('an 8 GiB map over the 1 MiB limit pins and charges nothing', () => {
    const ran = run(MAPPED);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect([locked(ran[5]?.outcome.world), pinned(ran[5]?.outcome.world)]).toEqual([0n, 0n]);
  });
  it('a pin returns npage, pins from the page of iova and charges what it pins', () => {
    const ran = run([...MAPPED, pin('0x1800', 2)]);
    expect(ran[6]?.outcome.result?.ret).toBe(2n);
    expect([locked(ran[6]?.outcome.world), pinned(ran[6]?.outcome.world)]).toEqual([2n, 2n]);
  });
  it('a pin past RLIMIT_MEMLOCK is ENOMEM; one the IOAS does not map is ENOENT; a write to a read-only map EPERM', () => {
    const ran = run([...MAPPED, pin('0x0', 257), pin('0x300000000', 1), map('0x1000', '0x400000000', ['FIXED_IOVA', 'READABLE']), pin('0x400000000', 1)]);
    expect(checks(ran.slice(6))).toEqual([
      'ENOMEM incr_user_locked_vm: locked_vm would pass RLIMIT_MEMLOCK',
      'ENOENT iommufd_access_pin_pages: range not covered by contiguous areas',
      'ok',
      'EPERM iommufd_access_pin_pages: the area lacks the permission',
    ]);
  });
  it('no pages, a device not open, a driver without dma_unmap → EINVAL; no IOAS attached → ENOENT', () => {
    const vf0 = { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 4 } };
    const ran = run([pin('0', 1), ...BOUND, pin('0', 0), pin('0', 1), vf0, { op: 'VFIO_PIN_PAGES', args: { dev: 'vf0', iova: 0, npage: 1 } }]);
    expect(checks([ran[0] as Ran, ran[5] as Ran, ran[6] as Ran, ran[8] as Ran])).toEqual([
      'EINVAL vfio_pin_pages: the device is not open',
      'EINVAL vfio_pin_pages: npage is 0',
      'ENOENT iommufd_access_pin_pages: the access has no IOAS',
      'EINVAL vfio_pin_pages: the driver has no dma_unmap',
    ]);
  });
  it('an unmap of what the driver pinned has it unpin first (dma_unmap): uncharged, and the unmap succeeds', () => {
    const ran = run([...MAPPED, pin('0x1000', 2), { op: 'IOAS_UNMAP', fd: 4, args: { ioas_id: 2, iova: 0, length: '0x200000000' } }]);
    expect(ran[7]?.out).toEqual({ length: 0x200000000n });
    expect(locked(ran[7]?.outcome.world)).toBe(0n);
  });
});

describe('vfio_unpin_pages → iommufd_access_unpin_pages', () => {
  it('unpins what was pinned with the same range; another range finds nothing to unpin and changes nothing', () => {
    const ran = run([...MAPPED, pin('0x1000', 2), unpin('0x1000', 1), unpin('0x1800', 2)]);
    expect(errnos(ran.slice(6))).toEqual(['ok', 'ok', 'ok']);
    expect(ran[7]?.outcome.world).toBe(ran[7]?.before);
    expect(locked(ran[8]?.outcome.world)).toBe(0n);
  });
});

describe('an emulated device opened through its group on iommufd (vfio_iommufd_compat_attach_ioas)', () => {
  const COMPAT = [open('/dev/iommu'), open('/dev/vfio/22'), { op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: { container_fd: 3 } }, { op: 'VFIO_GROUP_GET_DEVICE_FD', fd: 4, args: { dev: 'mtty' } }];
  it('binds an access, attached to the compat IOAS: a type1 map through iommufd pins nothing until the driver pins', () => {
    const ran = run([
      ...COMPAT,
      { op: 'VFIO_IOMMU_MAP_DMA', fd: 3, args: { flags: ['READ', 'WRITE'], vaddr: GUEST_RAM, iova: 0, size: '0x200000000' } },
      { op: 'VFIO_PIN_PAGES', args: { dev: 'mtty', iova: 0, npage: 4, prot: ['READ'] } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const ctx = ran[5]?.outcome.world.contexts.get(1);
    expect([...(ctx?.objects.values() ?? [])].map((o) => o.type)).toEqual(['ioas', 'access']);
    expect(locked(ran[4]?.outcome.world)).toBe(0n);
    expect(locked(ran[5]?.outcome.world)).toBe(4n);
  });
  it('closing the device fd destroys the access', () => {
    const ran = run([...COMPAT, { op: 'CLOSE', args: { fd: 5 } }]);
    expect([...(ran[4]?.outcome.world.contexts.get(1)?.objects.values() ?? [])].map((o) => o.type)).toEqual(['ioas']);
  });
  it('a native container taking its group is not modelled: unsupported', () => {
    const native = { ...HOST, env: { ...HOST.env, vfio: { container: 'native' } } };
    const ran = runTrace([open('/dev/vfio/vfio'), open('/dev/vfio/22'), { op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: { container_fd: 3 } }], native);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'unsupported']);
  });
});

describe('the invariant of a bound device (vfio-device-bound)', () => {
  it('holds along a run, and sees an access VFIO thinks attached that is not', () => {
    const ran = run([...MAPPED, pin('0x1000', 2), { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 3 }]);
    for (const r of ran) expect(checkWorld(r.outcome.world)).toEqual([]);
    const world = ran[7]?.outcome.world as World;
    const lying = { ...world, devices: world.devices.map((d, i) => (i === 0 ? { ...d, ridAttached: true } : d)) };
    expect(checkWorld(lying)).toEqual([{ invariant: 'vfio-device-bound', detail: "device ap0's access is detached, VFIO says attached" }]);
  });
});

describe('the header', () => {
  const header = (devices: object[]) => () => runTrace([], { ...HOST, env: { ...HOST.env, devices } });
  it('an emulated device is alone in its group (vfio_device_set_group makes one for it)', () => {
    expect(header([{ name: 'a', kind: 'emulated', group: 3 }, { name: 'b', kind: 'vtd', group: 3 }])).toThrow(
      'env.devices[1].group: group 3 has an emulated device, which is alone in its group',
    );
  });
  it('VFIO_PIN_PAGES naming no header device is malformed input', () => {
    expect(() => run([{ op: 'VFIO_PIN_PAGES', args: { dev: 'nope', iova: 0, npage: 1 } }])).toThrow('VFIO_PIN_PAGES names no header device (dev, or a device fd)');
  });
  it('a bad npage or prot is malformed input, read as any other argument', () => {
    expect(() => run([{ op: 'VFIO_PIN_PAGES', args: { dev: 'ap0', npage: 'many' } }])).toThrow(/npage/);
    expect(() => run([{ op: 'VFIO_PIN_PAGES', args: { dev: 'ap0', prot: ['EXECUTE'] } }])).toThrow(/prot/);
    expect(() => run([{ op: 'VFIO_UNPIN_PAGES', args: { dev: 'ap0', prot: ['READ'] } }])).toThrow(/prot/);
  });
});
