/**
 * The audit's three accountings of one workload, side by side, per process: iommufd's (pages
 * objects, shared across IO address spaces by IOAS_COPY), native VFIO type1's (each container
 * pins and charges each of its mappings) and SPAPR TCE's (memory pre-registered once per mm,
 * whatever the windows and mappings that use it). Each column is the actual charge of the
 * mappings made through its own API — iommufd's the process's pinned_vm, type1's what native
 * containers charged, SPAPR's the pre-registered regions and the containers' TCE tables (v1:
 * window) — plus a yardstick: what it would charge for the mappings made through the other two.
 *
 * - type1's yardstick is the native driver's own charging: each IOAS, and each window of a
 *   SPAPR container, a type1 v2 container (`type1Open()`) whose mappings are linked and charged
 *   by the driver's functions (`linkDma()`, `unlinkDma()`, `remotePages()`).
 * - iommufd's yardstick for a native container's mapping: an IOAS_MAP of its memory, unless
 *   another container maps exactly that memory, when an IOAS_COPY shares its pages object; a
 *   second mapping of the same memory within one container is a second pages object.
 * - SPAPR's yardstick: every page of a process's memory any mapping pins, once.
 */
import { Fail } from '../src/model/fail.ts';
import type { World } from '../src/model/world.ts';
import { linkDma, unlinkDma } from '../src/vfio/container/type1-dma.ts';
import { VFIO_TYPE1v2_IOMMU, type1Open } from '../src/vfio/container/type1.ts';
import type { Type1, VfioDma } from '../src/vfio/state.ts';
import { Coverage } from './audit-coverage.ts';

export type Accounting = 'iommufd' | 'type1' | 'spapr';

export const ACCOUNTINGS: readonly Accounting[] = ['iommufd', 'type1', 'spapr'];

/** Each accounting's charge per process, and the processes whose charges changed since the last `drain()`. */
export class Ledgers {
  private readonly sums: { readonly [A in Accounting]: Map<number, bigint> } = { iommufd: new Map(), type1: new Map(), spapr: new Map() };
  private readonly touched = new Set<number>();
  private readonly shadows = new Map<string, Type1>();
  private readonly shared = new Map<string, SharedMemory>();
  private readonly once = new Map<string, Coverage>();

  /** Adds `delta` pages to `pid`'s charge under `accounting`. */
  add(accounting: Accounting, pid: number, delta: bigint): void {
    if (delta === 0n) return;
    const sums = this.sums[accounting];
    const n = (sums.get(pid) ?? 0n) + delta;
    if (n === 0n) sums.delete(pid);
    else sums.set(pid, n);
    this.touched.add(pid);
  }

  get(accounting: Accounting, pid: number): bigint {
    return this.sums[accounting].get(pid) ?? 0n;
  }

  /** Every process with a charge under some accounting, ascending. */
  pids(): number[] {
    return [...new Set(ACCOUNTINGS.flatMap((a) => [...this.sums[a].keys()]))].sort((a, b) => a - b);
  }

  /** The processes whose charges changed since the last call. */
  drain(): number[] {
    const out = [...this.touched];
    this.touched.clear();
    return out;
  }

  /** The shadow type1 container `shadow`'s mapping at IOVA `start`. */
  shadowDma(shadow: string, start: bigint): VfioDma | undefined {
    return this.shadows.get(shadow)?.dmas.get(start);
  }

  /** Maps `dma` in the shadow type1 container `shadow`, opened as VFIO_TYPE1v2_IOMMU on its first mapping. */
  link(world: World, shadow: string, dma: VfioDma): void {
    let before = this.shadows.get(shadow);
    if (before === undefined) {
      const opened = type1Open(world, VFIO_TYPE1v2_IOMMU);
      if (opened instanceof Fail) throw new Error('[iommufd-model] the shadow type1 container did not open');
      before = opened;
    }
    this.settle(shadow, before, linkDma(before, dma));
  }

  /** Unmaps the mapping at IOVA `start` of the shadow type1 container `shadow`, if it has one. */
  unlink(shadow: string, start: bigint): void {
    const before = this.shadows.get(shadow);
    const dma = before?.dmas.get(start);
    if (before !== undefined && dma !== undefined) this.settle(shadow, before, unlinkDma(before, dma));
  }

  private settle(shadow: string, before: Type1, after: Type1): void {
    after.charged.changesSince(before.charged, (pid, was, now) => this.add('type1', pid, (now ?? 0n) - (was ?? 0n)));
    if (after.dmas.size === 0) this.shadows.delete(shadow);
    else this.shadows.set(shadow, after);
  }

  /**
   * Counts (`delta` 1) or uncounts (-1) a native container's mapping of `size` bytes of
   * `owner`'s memory from `vaddr`, `pages` pages, under iommufd's yardstick.
   */
  share(container: string, owner: number, vaddr: bigint, size: bigint, pages: bigint, delta: 1 | -1): void {
    const key = `${owner}:${vaddr}:${size}`;
    let memory = this.shared.get(key);
    if (memory === undefined) this.shared.set(key, (memory = { owner, pages, maps: new Map(), most: 0 }));
    const n = (memory.maps.get(container) ?? 0) + delta;
    if (n === 0) memory.maps.delete(container);
    else memory.maps.set(container, n);
    const most = Math.max(0, ...memory.maps.values());
    this.add('iommufd', owner, pages * BigInt(most - memory.most));
    memory.most = most;
    if (memory.maps.size === 0) this.shared.delete(key);
  }

  /** Counts (`delta` 1) or uncounts (-1) pages `[first, last]` of `owner`'s memory `space` under SPAPR's yardstick. */
  cover(owner: number, space: string, first: bigint, last: bigint, delta: 1 | -1): void {
    const key = `${owner}:${space}`;
    let coverage = this.once.get(key);
    if (coverage === undefined) this.once.set(key, (coverage = new Coverage()));
    if (delta > 0) this.add('spapr', owner, coverage.add(first, last));
    else this.add('spapr', owner, -coverage.remove(first, last));
    if (coverage.empty) this.once.delete(key);
  }
}

/** One range of a process's memory that native containers map: how many times each container maps it. */
interface SharedMemory {
  readonly owner: number;
  readonly pages: bigint;
  readonly maps: Map<string, number>;
  /** The most mappings of it in one container: the pages objects iommufd would need. */
  most: number;
}
