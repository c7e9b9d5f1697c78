/**
 * A POWER host for the SPAPR TCE tests: 64 KiB pages, 16 MiB huge pages, 256 MiB of guest RAM
 * at `RAM`, PowerNV IODA2 PEs (the `spapr` device defaults: a 2 GiB 32-bit window at 0, the
 * second window at 1 << 59, 4K/64K/16M/256M pages, two windows, five levels), and builders for
 * the SPAPR container ioctls on the container fd 3 of `V1`/`V2` (group 1 as fd 4).
 */
import { parseTraceText } from '../../events/index.ts';
import { step } from '../../src/model/dispatch.ts';
import { stepQuirks, type Quirk } from '../../src/invariants/invariants.ts';
import { createWorld } from '../../src/model/world-init.ts';
import type { World } from '../../src/model/world.ts';
import { hex } from './native-fixtures.ts';

export const PAGE = 0x10000n;
export const RAM = 0x7fff80000000n;
export const RAM_SIZE = 0x10000000n;
/** Where PowerNV puts the second window (`tce_bypass_base`). */
export const WINDOW64 = 1n << 59n;

export const PE = (group: number, more: object = {}) => ({ name: `000${group}:01:00.0`, kind: 'spapr', group, ...more });

/** A POWER host header: `devices` (default one PE in group 1), pid 1 with `rlimit` bytes of memlock. */
export const power = (devices: readonly object[] = [PE(1)], rlimit = '0x200000000', caps: readonly string[] = [], more: object = {}) => ({
  trace: 'iommufd',
  version: '1.1',
  env: {
    page_size: 65536,
    hugepage_size: 16777216,
    memory: 'declared',
    mappings: [{ addr: hex(RAM), length: hex(RAM_SIZE), shared: true }],
    processes: [{ pid: 1, uid: 107, rlimit_memlock: rlimit, caps }],
    devices,
    ...more,
  },
});

export const POWER = power();

const onFd = (fd: number | undefined) => (fd === undefined ? { fd: 3 } : { fd });

/** Container fd 3 with group 1 (fd 4) in it and the SPAPR type set. */
const prologue = (type: string) => [
  { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
  { op: 'OPEN', args: { path: '/dev/vfio/1' } },
  { op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: { container_fd: 3 } },
  { op: 'VFIO_SET_IOMMU', fd: 3, args: { arg: type } },
];
export const V1 = prologue('SPAPR_TCE_IOMMU');
export const V2 = prologue('SPAPR_TCE_v2_IOMMU');

export const enable = (fd?: number) => ({ op: 'VFIO_IOMMU_ENABLE', ...onFd(fd) });
export const disable = (fd?: number) => ({ op: 'VFIO_IOMMU_DISABLE', ...onFd(fd) });
export const getInfo = (args: object = {}, fd?: number) => ({ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', ...onFd(fd), args });
export const register = (vaddr: bigint, size: bigint, more: object = {}, fd?: number) => ({
  op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
  ...onFd(fd),
  args: { vaddr: hex(vaddr), size: hex(size), ...more },
});
export const unregister = (vaddr: bigint, size: bigint, more: object = {}, fd?: number) => ({
  op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
  ...onFd(fd),
  args: { vaddr: hex(vaddr), size: hex(size), ...more },
});
export const create = (pageShift: number, windowSize: bigint, levels: number, more: object = {}, fd?: number) => ({
  op: 'VFIO_IOMMU_SPAPR_TCE_CREATE',
  ...onFd(fd),
  args: { page_shift: pageShift, window_size: hex(windowSize), levels, ...more },
});
export const remove = (start: bigint, more: object = {}, fd?: number) => ({ op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', ...onFd(fd), args: { start_addr: hex(start), ...more } });
export const map = (iova: bigint, vaddr: bigint, size: bigint, flags: readonly string[] = ['READ', 'WRITE'], fd?: number) => ({
  op: 'VFIO_IOMMU_MAP_DMA',
  ...onFd(fd),
  args: { flags, vaddr: hex(vaddr), iova: hex(iova), size: hex(size) },
});
export const unmap = (iova: bigint, size: bigint, more: object = {}, fd?: number) => ({
  op: 'VFIO_IOMMU_UNMAP_DMA',
  ...onFd(fd),
  args: { iova: hex(iova), size: hex(size), ...more },
});

/** Runs a trace and gives, for each event, the quirks its step brought about. */
export function quirksOf(events: readonly object[], header: object = POWER): { quirks: Quirk[][]; world: World } {
  const parsed = parseTraceText([header, ...events].map((e) => JSON.stringify(e)).join('\n'), 'inline.jsonl');
  let world = createWorld(parsed.header);
  const quirks: Quirk[][] = [];
  for (const event of parsed.events) {
    const next = step(world, event, { adopt: true }).world;
    quirks.push(stepQuirks(world, next));
    world = next;
  }
  return { quirks, world };
}
