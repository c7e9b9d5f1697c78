/**
 * SPAPR TCE windows and the container around them (drivers/vfio/vfio_iommu_spapr_tce.c):
 * attaching groups, VFIO_IOMMU_SPAPR_TCE_GET_INFO, VFIO_IOMMU_SPAPR_TCE_CREATE and _REMOVE
 * with their two table slots and the table charge (pci-ioda.c's size rule), the mm check.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, afterPrologue, errnos, failedAt, refused, runTrace } from '../harness.ts';
import { spaprOf } from '../../src/vfio/store.ts';
import { spaprMmOf } from '../../src/vfio/prereg.ts';
import { PE, POWER, RAM, V1, V2, WINDOW64, create, getInfo, map, power, quirksOf, register, remove } from './spapr-fixtures.ts';

const lockedVm = (r: Ran | undefined): bigint | undefined => r?.outcome.world.processes.get(1)?.lockedVm;
const tables = (r: Ran | undefined) => (r === undefined ? [] : spaprOf(r.outcome.world, 1).tables);
const after = (prologue: readonly object[], events: readonly object[], header: object = POWER) => afterPrologue(prologue, events, header);

describe('attaching groups (tce_iommu_attach_group)', () => {
  it('v2 needs a PE with dynamic windows: max_dynamic_windows_supported 0 makes SET_IOMMU EINVAL, v1 still takes it', () => {
    const header = power([PE(1, { max_dynamic_windows_supported: 0 })]);
    failedAt(runTrace(V2, header)[3], 'EINVAL tce_iommu_attach_group: a v2 container needs dynamic DMA windows');
    expect(runTrace(V1, header)[3]?.errno).toBe('ok');
  });
  it('a v1 container takes one group (EBUSY); v2 takes more, and its GET_INFO answers for the head of its group list, the latest', () => {
    const header = power([PE(1), PE(2, { tce32_size: '0x40000000' })]);
    const second = [{ op: 'OPEN', args: { path: '/dev/vfio/2' } }, { op: 'VFIO_GROUP_SET_CONTAINER', fd: 5, args: { container_fd: 3 } }];
    failedAt(after(V1, second, header)[1], 'EBUSY tce_iommu_attach_group: a v1 container takes one group');
    const v2 = after(V2, [...second, getInfo()], header);
    expect(errnos(v2)).toEqual(['ok', 'ok', 'ok']);
    expect(v2[2]?.out['dma32_window_size']).toBe(0x40000000n);
  });
  it("a group leaving a v2 container clears every window's TCEs (Linux 6.11); the windows and their charges stay", () => {
    const header = power([PE(1), PE(2)]);
    const second = [{ op: 'OPEN', args: { path: '/dev/vfio/2' } }, { op: 'VFIO_GROUP_SET_CONTAINER', fd: 5, args: { container_fd: 3 } }];
    const ran = after([...V2, ...second], [register(RAM, 0x100000n), map(0n, RAM, 0x100000n), { op: 'VFIO_GROUP_UNSET_CONTAINER', fd: 5 }], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok']);
    expect(tables(ran[2]).map((t) => t?.tces.size)).toEqual([0, undefined]);
    expect(lockedVm(ran[2])).toBe(lockedVm(ran[1]));
    expect(ran[2] && spaprMmOf(ran[2].outcome.world, 1).regions.values().next().value?.mapped).toBe(0n);
  });
  it('a group whose devices are not spapr has no table group: ENODEV', () => {
    const header = power([{ name: 'x', kind: 'k', group: 1 }], undefined, undefined, { vfio: { drivers: ['spapr_tce'] } });
    failedAt(runTrace(V2, header)[3], 'ENODEV tce_iommu_attach_group: the group has no TCE table group');
  });
});

describe('VFIO_IOMMU_SPAPR_TCE_GET_INFO', () => {
  it('v2: the 32-bit window, DDW and ddw; the u32 fields truncate the PE values', () => {
    const header = power([PE(1, { tce32_start: '0x100000000', tce32_size: '0x180000000', pgsizes: '0x1011000', max_levels: 4 })]);
    expect(after(V2, [getInfo()], header)[0]?.out).toEqual({
      flags: 1n,
      dma32_window_start: 0n,
      dma32_window_size: 0x80000000n,
      ddw: { pgsizes: 0x1011000n, max_dynamic_windows_supported: 2n, levels: 4n },
    });
  });
  it('v1: no DDW, ddw zero; argsz below ddw leaves it unwritten; below dma32_window_size EINVAL; NULL EFAULT', () => {
    const ran = after(V1, [getInfo(), getInfo({ argsz: 16 }), getInfo({ argsz: 15 }), { op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', fd: 3, args: null }]);
    expect(ran[0]?.out['ddw']).toEqual({ pgsizes: 0n, max_dynamic_windows_supported: 0n, levels: 0n });
    expect(ran[1]?.out).toEqual({ flags: 0n, dma32_window_start: 0n, dma32_window_size: 0x80000000n });
    failedAt(ran[2], 'EINVAL tce_iommu_ioctl: argsz below minsz');
    failedAt(ran[3], 'EFAULT tce_iommu_ioctl: copy_from_user of a NULL argument');
  });
  it('VFIO_IOMMU_GET_INFO is the same number: a SPAPR container answers it as SPAPR_TCE_GET_INFO, read back as struct vfio_iommu_type1_info', () => {
    // flags DDW; the 32-bit window's start and size as iova_pgsizes; ddw.pgsizes' low half as cap_offset.
    expect(after(V2, [{ op: 'VFIO_IOMMU_GET_INFO', fd: 3, args: { argsz: 32 } }])[0]?.out).toEqual({ argsz: 32n, flags: 1n, iova_pgsizes: 0x80000000n << 32n, cap_offset: 0x11011000n });
  });
});

describe('VFIO_IOMMU_SPAPR_TCE_CREATE and _REMOVE', () => {
  it('slot 0 at tce32_start, slot 1 at tce64_start (1 << 59), each table charged; a third window ENOSPC', () => {
    const ran = after(V2, [remove(0n), create(16, 1n << 30n, 1), create(16, 1n << 33n, 2), create(12, 1n << 20n, 1)]);
    expect(ran.slice(1, 3).map((r) => r.out['start_addr'])).toEqual([0n, WINDOW64]);
    expect(ran.slice(1, 3).map(lockedVm)).toEqual([4n, 4n + 34n]);
    failedAt(ran[3], 'ENOSPC tce_iommu_find_free_table: both table slots are in use');
    expect(tables(ran[2]).map((t) => t && { offset: t.offset, size: t.size, pageShift: t.pageShift, levels: t.levels })).toEqual([
      { offset: 0n, size: 1n << 14n, pageShift: 16, levels: 1 },
      { offset: WINDOW64 >> 16n, size: 1n << 17n, pageShift: 16, levels: 2 },
    ]);
  });
  it('CREATE makes the pending default window first (4 KiB pages over tce32_size): the new one takes slot 1', () => {
    const ran = after(V2, [create(16, 1n << 30n, 1), create(16, 1n << 30n, 1)]);
    expect(ran[0]?.out['start_addr']).toBe(WINDOW64);
    expect(lockedVm(ran[0])).toBe(128n + 4n);
    failedAt(ran[1], 'ENOSPC tce_iommu_find_free_table: both table slots are in use');
  });
  it('a page size the PE does not take, a level count outside 1 to 5, a size not a power of two: EINVAL before any charge', () => {
    const ran = after(V2, [remove(0n), create(13, 1n << 30n, 1), create(64, 1n << 30n, 1), create(16, 1n << 30n, 6), create(16, 3n << 30n, 1)]);
    expect(ran.slice(1).map((r) => r.outcome.result?.check)).toEqual([
      'EINVAL tce_iommu_create_window: the PE does not take this page size',
      'EINVAL tce_iommu_create_window: the PE does not take this page size',
      'EINVAL tce_iommu_create_table: no table for this window size and level count',
      'EINVAL tce_iommu_create_table: no table for this window size and level count',
    ]);
    for (const r of ran.slice(1)) refused(r, 'EINVAL');
  });
  it('the table charge meets RLIMIT_MEMLOCK (ENOMEM) but for CAP_IPC_LOCK', () => {
    const events = [remove(0n), create(16, 1n << 40n, 2)];
    failedAt(after(V2, events, power(undefined, '0x100000'))[1], 'ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
    expect(after(V2, events, power(undefined, '0x100000', ['CAP_IPC_LOCK']))[1]?.errno).toBe('ok');
  });
  it('PowerNV refusing the table after the charge (EINVAL) leaves the charge for good: a leaked table charge, a kernel quirk', () => {
    const events = [...V2, remove(0n), create(16, 1n << 30n, 3)];
    const ran = runTrace(events, POWER);
    expect(ran[5]?.outcome.result?.check).toBe('EINVAL pnv_pci_ioda2_table_alloc_pages: the levels would index past 55 bits');
    const world = ran[5]?.outcome.world;
    expect(world?.processes.get(1)?.lockedVm).toBe(8n);
    expect(world && spaprMmOf(world, 1).leakedTablePages).toBe(8n);
    expect(tables(ran[5])).toEqual([null, null]);
    expect(quirksOf(events).quirks[5]).toEqual([{ quirk: 'tce-table-charge-leaked', detail: 'pid 1: 8 pages charged for a TCE table that was not made stay charged' }]);
  });
  it('REMOVE: 0 cancels the pending default window; any address of a window removes it, uncharging its table; elsewhere EINVAL', () => {
    const ran = after(V2, [register(RAM, 0x100000n), map(0n, RAM, 0x10000n), remove(0x7fff0000n), remove(0n), remove(0x10000n)]);
    expect(lockedVm(ran[1])).toBe(16n + 128n);
    expect(ran[2]?.errno).toBe('ok');
    expect(lockedVm(ran[2])).toBe(16n);
    expect(ran[2]?.outcome.world && spaprMmOf(ran[2].outcome.world, 1).regions.values().next().value?.mapped).toBe(0n);
    failedAt(ran[3], 'EINVAL tce_iommu_remove_window: no window holds the address');
  });
  it('v1 has neither (ENOTTY); bad arguments are EINVAL or EFAULT, the mm bound all the same', () => {
    expect(errnos(after(V1, [create(16, 1n << 30n, 1), remove(0n)]))).toEqual(['ENOTTY', 'ENOTTY']);
    const ran = after(V2, [
      create(16, 1n << 30n, 1, { flags: 1 }),
      create(16, 1n << 30n, 1, { argsz: 32 }),
      { op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', fd: 3, args: null },
      remove(0n, { argsz: 8 }),
    ]);
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'EINVAL tce_iommu_ioctl: flags is not 0',
      'EINVAL tce_iommu_ioctl: argsz below minsz',
      'EFAULT tce_iommu_ioctl: copy_from_user of a NULL argument',
      'EINVAL tce_iommu_ioctl: argsz below minsz',
    ]);
    expect(ran[0] && spaprOf(ran[0].outcome.world, 1).mm).toBe(1);
  });
  it('another process (a forked child holding the fd) gets EPERM once the mm is bound, for every ioctl but CHECK_EXTENSION', () => {
    const child = (op: object) => ({ ...op, pid: 2 });
    const ran = after(V2, [register(RAM, 0x10000n), { op: 'FORK' }, child(getInfo()), child(create(16, 1n << 30n, 1)), child(map(0n, RAM, 0x10000n)), child({ op: 'VFIO_CHECK_EXTENSION', fd: 3, args: { arg: 7 } })]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'EPERM', 'EPERM', 'EPERM', 'ok']);
    expect(ran[2]?.outcome.result?.check).toBe('EPERM tce_iommu_ioctl: the container is bound to another mm');
  });
});
