/**
 * Pre-registration per mm (arch/powerpc/mm/book3s64/iommu_api.c and tce_iommu_register_pages(),
 * tce_iommu_unregister_pages()): regions shared by exact range with a reference each, charged
 * once at registration, EBUSY / EINVAL / ENOENT as the kernel has them, and what a container's
 * release gives back.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, afterPrologue, errnos } from '../harness.ts';
import { regionKey, spaprMmOf } from '../../src/vfio/prereg.ts';
import type { World } from '../../src/model/world.ts';
import { spaprOf } from '../../src/vfio/store.ts';
import { PAGE, PE, RAM, RAM_SIZE, V2, map, power, register, unregister } from './spapr-fixtures.ts';

const TWO = power([PE(1), PE(2)]);
/** Two v2 containers of one process: fd 3 with group 1, fd 5 with group 2. */
const TWO_CONTAINERS = [
  ...V2,
  { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
  { op: 'OPEN', args: { path: '/dev/vfio/2' } },
  { op: 'VFIO_GROUP_SET_CONTAINER', fd: 6, args: { container_fd: 5 } },
  { op: 'VFIO_SET_IOMMU', fd: 5, args: { arg: 'SPAPR_TCE_v2_IOMMU' } },
];
const M64 = 0x4000000n;

const worldOf = (r: Ran | undefined): World => {
  if (r === undefined) throw new Error('no event');
  return r.outcome.world;
};
const lockedVm = (r: Ran | undefined): bigint | undefined => worldOf(r).processes.get(1)?.lockedVm;
const region = (r: Ran | undefined, ua = RAM, size = M64) => spaprMmOf(worldOf(r), 1).regions.get(regionKey(ua, size / PAGE));

describe('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', () => {
  it('charges the pages at registration; a second container of the mm registering the same range shares the region and its charge', () => {
    const ran = afterPrologue(TWO_CONTAINERS, [register(RAM, M64), register(RAM, M64, {}, 5)], TWO);
    expect(ran.map(lockedVm)).toEqual([1024n, 1024n]);
    expect([region(ran[1])?.used, region(ran[1])?.holders]).toEqual([2, [2, 1]]);
  });
  it('the same range twice in one container is EBUSY; an overlapping different range EINVAL, wherever it overlaps', () => {
    const ran = afterPrologue(TWO_CONTAINERS, [
      register(RAM, M64),
      register(RAM, M64),
      register(RAM + M64 / 2n, M64, {}, 5),
      register(RAM + M64 - PAGE, 2n * PAGE, {}, 5),
      register(RAM, M64 / 2n, {}, 5),
    ], TWO);
    expect(ran.slice(1).map((r) => r.outcome.result?.check)).toEqual([
      'EBUSY tce_iommu_register_pages: this container registered the range already',
      'EINVAL mm_iommu_do_alloc: the range overlaps a registered region of another address or size',
      'EINVAL mm_iommu_do_alloc: the range overlaps a registered region of another address or size',
      'EINVAL mm_iommu_do_alloc: the range overlaps a registered region of another address or size',
    ]);
    expect(lockedVm(ran[4])).toBe(1024n);
  });
  it('the charge comes first (ENOMEM), then the pins for writing (EFAULT), then the overlap (EINVAL): each failure gives back what came before', () => {
    const header = power([PE(1)], '0x2000000');
    const ran = afterPrologue(V2, [register(RAM, M64), register(RAM + RAM_SIZE - PAGE, 2n * PAGE), register(RAM, PAGE)], header);
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK',
      'EFAULT mm_iommu_do_alloc: a page could not be pinned for writing',
      undefined,
    ]);
    expect(ran.map(lockedVm)).toEqual([0n, 0n, 1n]);
  });
  it('alignment, wrap, flags and argsz are EINVAL, the mm bound all the same', () => {
    const ran = afterPrologue(V2, [
      register(RAM + 0x1000n, PAGE),
      register(RAM, 0x1000n),
      register(0xffffffffffff0000n, 0x20000n),
      register(RAM, PAGE, { flags: 1 }),
      register(RAM, PAGE, { argsz: 23 }),
    ], power());
    expect(errnos(ran)).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL']);
    expect(ran[0]?.outcome.world).not.toBe(ran[0]?.before);
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('an empty range is ENOMEM (vzalloc of no entries), before and after the mm is bound, and lists no region', () => {
    const ran = afterPrologue(V2, [register(RAM, 0n), register(RAM, M64), register(RAM + PAGE, 0n), register(RAM + M64, 0n)], power());
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'ENOMEM mm_iommu_do_alloc: vzalloc of an empty page array fails',
      undefined,
      'ENOMEM mm_iommu_do_alloc: vzalloc of an empty page array fails',
      'ENOMEM mm_iommu_do_alloc: vzalloc of an empty page array fails',
    ]);
    expect(spaprOf(worldOf(ran[0]), 1).mm).toBe(1);
    expect(spaprMmOf(worldOf(ran[0]), 1).regions.size).toBe(0);
    expect(ran[2]?.outcome.world).toBe(ran[2]?.before);
    expect(ran[3]?.outcome.world).toBe(ran[3]?.before);
    expect(lockedVm(ran[3])).toBe(1024n);
  });
});

describe('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', () => {
  it('EPERM before any mm is bound; ENOENT for a range not registered exactly, or not by this container', () => {
    const ran = afterPrologue(TWO_CONTAINERS, [
      unregister(RAM, M64),
      register(RAM, M64),
      unregister(RAM, M64 / 2n),
      register(RAM + M64, M64, {}, 5),
      unregister(RAM + M64, M64),
    ], TWO);
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'EPERM tce_iommu_ioctl: no mm is bound yet',
      undefined,
      'ENOENT mm_iommu_get: no region has exactly this address and size',
      undefined,
      'ENOENT tce_iommu_unregister_pages: this container did not register the region',
    ]);
  });
  it("lets the container's reference go; the last one releases the region and its charge", () => {
    const ran = afterPrologue(TWO_CONTAINERS, [register(RAM, M64), register(RAM, M64, {}, 5), unregister(RAM, M64), unregister(RAM, M64, {}, 5)], TWO);
    expect(ran.map(lockedVm)).toEqual([1024n, 1024n, 1024n, 0n]);
    expect([region(ran[2])?.used, region(ran[2])?.holders]).toEqual([1, [2]]);
    expect(region(ran[3])).toBeUndefined();
  });
  it('another container of the mm maps into a region it did not register (MAP looks in the mm): the owner still unregisters it, and it leaks', () => {
    const ran = afterPrologue(TWO_CONTAINERS, [register(RAM, M64), register(RAM + M64, PAGE, {}, 5), map(0n, RAM, PAGE, ['READ'], 5), unregister(RAM, M64)], TWO);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([region(ran[3])?.used, region(ran[3])?.holders, region(ran[3])?.mapped]).toEqual([1, [], 16n]);
  });
});

describe("a container's release (tce_iommu_release)", () => {
  it('frees its tables, then puts its regions: one TCEs of another container still point into stays, held by none', () => {
    const ran = afterPrologue(TWO_CONTAINERS, [register(RAM, M64), register(RAM + M64, PAGE, {}, 5), map(0n, RAM, PAGE, ['READ'], 5), { op: 'CLOSE', args: { fd: 4 } }], TWO);
    expect(ran[3] && worldOf(ran[3]).vfio.containers.get(1)?.driver).toBeNull();
    expect([region(ran[3])?.used, region(ran[3])?.holders]).toEqual([1, []]);
  });
});
