/**
 * The invariants of legacy VFIO (drivers/vfio/container.c, group.c, vfio_iommu_type1.c), one
 * subject at a time as state-checks.ts has those of iommufd: a native container, one of its
 * type1 mappings, a group (SPAPR TCE's, a container's windows and an mm's pre-registered
 * regions, in spapr-checks.ts). What a check needs summed over a container's mappings or over the
 * open files is an argument, so the whole-snapshot check can scan for it and the incremental
 * one (vfio-cells.ts) keep it up to date. `checkType1Unmap` is a step invariant: what a
 * successful type1 unmap may have removed.
 */
import type { Fields, TraceEvent } from '../../events/types.ts';
import { fileOf } from '../mm/files.ts';
import { type Result, big } from '../model/command.ts';
import { firstIntersecting, U64_MAX } from '../model/ranges.ts';
import type { OpenFile, World } from '../model/world.ts';
import { defaultContainerFd } from '../vfio/group.ts';
import type { TceRun } from '../vfio/spapr-state.ts';
import type { Container, Type1, VfioDma, VfioGroup } from '../vfio/state.ts';
import { checkRegions, checkSpaprContainer, checkTceRun, mappedTally, runsOf, spaprOf } from './spapr-checks.ts';
import { type Violation, hex } from './state-checks.ts';

/** What a type1 container's mappings add up to: the pages charged to each owner, and how many have their vaddr invalidated. */
export interface DmaTally {
  readonly owed: Map<number, bigint>;
  invalid: number;
}

export const emptyTally = (): DmaTally => ({ owed: new Map(), invalid: 0 });

/** Adds (`sign` 1) or takes out (-1) a mapping. */
export function tallyDma(tally: DmaTally, dma: VfioDma, sign: 1 | -1): void {
  const v = (tally.owed.get(dma.owner) ?? 0n) + (sign === 1 ? dma.lockedVm : -dma.lockedVm);
  if (v === 0n) tally.owed.delete(dma.owner);
  else tally.owed.set(dma.owner, v);
  if (dma.vaddrInvalid) tally.invalid += sign;
}

/** The open files of VFIO's kinds: how many name each container, and which name each group. */
export interface VfioFiles {
  readonly containers: Map<number, number>;
  readonly groups: Map<number, Set<number>>;
}

export const emptyFiles = (): VfioFiles => ({ containers: new Map(), groups: new Map() });

/** Adds (`sign` 1) or takes out (-1) an open file; returns the cell it concerns, if any. */
export function fileOfVfio(files: VfioFiles, file: OpenFile, sign: 1 | -1): { readonly container: number } | { readonly group: number } | null {
  if (file.kind === 'container') {
    const n = (files.containers.get(file.container) ?? 0) + sign;
    if (n === 0) files.containers.delete(file.container);
    else files.containers.set(file.container, n);
    return { container: file.container };
  }
  if (file.kind === 'group') {
    const ids = files.groups.get(file.group) ?? new Set<number>();
    if (sign === 1) ids.add(file.id);
    else ids.delete(file.id);
    if (ids.size === 0) files.groups.delete(file.group);
    else files.groups.set(file.group, ids);
    return { group: file.group };
  }
  return null;
}

/** The type1 driver data of a container, if it has type1 open. */
export const type1Of = (container: Container | undefined): Type1 | undefined =>
  container?.driver?.kind === 'type1' ? container.driver.iommu : undefined;

/**
 * A native container: it lives while its /dev/vfio/vfio file is open or a group holds it
 * (`vfio_container_put()`), its groups name it back, and a type1 driver's data agrees with its
 * mappings (`tally`) and groups. `fileRefs` open files name it; a container that is gone must
 * have none.
 */
export function checkContainer(world: World, id: number, container: Container | undefined, tally: DmaTally, fileRefs: number, out: Violation[]): void {
  if (container === undefined) {
    if (fileRefs > 0) out.push({ invariant: 'no-dangling-references', detail: `${fileRefs} open /dev/vfio/vfio files name container ${id}, which is gone` });
    return;
  }
  const at = (): string => `container ${id}`;
  if (!container.fileOpen && container.groups.length === 0) {
    out.push({ invariant: 'vfio-container-held', detail: `${at()} outlived its file and its last group` });
  }
  if (container.fileOpen !== fileRefs > 0) {
    out.push({ invariant: 'vfio-container-held', detail: `${at()} has its file ${container.fileOpen ? 'open' : 'closed'}, and ${fileRefs} open files name it` });
  }
  container.groups.forEach((g, i) => {
    const group = world.vfio.groups.get(g);
    if (container.groups.indexOf(g) !== i) out.push({ invariant: 'vfio-group-links', detail: `${at()} lists group ${g} twice` });
    else if (group?.container !== id) out.push({ invariant: 'vfio-group-links', detail: `${at()} lists group ${g}, which does not name it back` });
  });
  const iommu = type1Of(container);
  if (iommu !== undefined) checkType1(world, at, container, iommu, tally, out);
  const spapr = spaprOf(container);
  if (spapr !== undefined) checkSpaprContainer(world, id, container, spapr, out);
}

/**
 * A type1 container's counts: its domains hold exactly its groups, `dma_avail` and the mappings
 * make `dma_entry_limit` (which each container read as it opened type1: the module parameter,
 * which no event changes), `vaddr_invalid_count` counts the invalidated vaddrs, and what it
 * charged each mm is what that mm's mappings charge.
 */
function checkType1(world: World, at: () => string, container: Container, iommu: Type1, tally: DmaTally, out: Violation[]): void {
  let inDomains = 0;
  for (const d of iommu.domains) inDomains += d.groups.length;
  if (inDomains !== container.groups.length || !container.groups.every((g) => iommu.domains.some((d) => d.groups.includes(g)))) {
    const held = iommu.domains.flatMap((d) => d.groups).join(',');
    out.push({ invariant: 'type1-domains-hold-groups', detail: `${at()} has groups ${container.groups.join(',')}, its domains ${held}` });
  }
  const limit = world.vfio.config.dmaEntryLimit;
  if (iommu.dmaAvail + BigInt(iommu.dmas.size) !== limit) {
    out.push({ invariant: 'type1-dma-avail', detail: `${at()} dma_avail ${iommu.dmaAvail} with ${iommu.dmas.size} mappings, dma_entry_limit ${limit}` });
  }
  if (iommu.vaddrInvalid !== tally.invalid) {
    out.push({ invariant: 'type1-vaddr-invalid-count', detail: `${at()} vaddr_invalid_count ${iommu.vaddrInvalid}, ${tally.invalid} mappings have an invalid vaddr` });
  }
  if (sameCharges(iommu, tally)) return;
  const pids = [...new Set([...iommu.charged.keys(), ...tally.owed.keys()])].sort((a, b) => a - b);
  for (const pid of pids) {
    const charged = iommu.charged.get(pid) ?? 0n;
    const owed = tally.owed.get(pid) ?? 0n;
    if (charged !== owed) out.push({ invariant: 'type1-charged-sum', detail: `${at()} charged pid ${pid} ${charged} pages, its mappings of that mm charge ${owed}` });
  }
}

/** Whether the container charged each mm what its mappings owe (neither map keeps a zero). */
function sameCharges(iommu: Type1, tally: DmaTally): boolean {
  if (iommu.charged.size !== tally.owed.size) return false;
  for (const [pid, pages] of iommu.charged) if (tally.owed.get(pid) !== pages) return false;
  return true;
}

/**
 * One type1 mapping, against the one before it. Every page it pinned is charged but those of
 * reserved pfns (`vfio_pin_pages_remote()`: `!rsvd && !vfio_find_vpfn()`); the model's memory
 * has no reserved pfns and no mediated device pins a page first, so it charges its size in pages.
 */
export function checkDma(world: World, id: number, key: bigint, dma: VfioDma, before: VfioDma | undefined, out: Violation[]): void {
  const at = (): string => `container ${id} mapping ${hex(key)}`;
  if (dma.start !== key || dma.last < dma.start || (before !== undefined && dma.start <= before.last)) {
    out.push({ invariant: 'type1-dmas-disjoint', detail: `${at()} spans ${hex(dma.start)}..${hex(dma.last)}, past its key or over the mapping before it` });
  }
  const pages = (dma.last - dma.start + 1n) / world.config.pageSize;
  if (dma.lockedVm !== pages) out.push({ invariant: 'type1-dma-charge', detail: `${at()} charges ${dma.lockedVm} pages for its ${pages}` });
}

/**
 * A group: the container it names lists it, it is not attached to an iommufd as well,
 * `container_users` is 1 for the attachment plus 1 per device open through it, and
 * `opened_file` is its one open file (`files`).
 */
export function checkGroup(world: World, group: VfioGroup, files: ReadonlySet<number> | undefined, out: Violation[]): void {
  const at = (): string => `group ${group.id}`;
  if (group.container !== null) {
    const container = world.vfio.containers.get(group.container);
    if (container?.groups.includes(group.id) !== true) out.push({ invariant: 'vfio-group-links', detail: `${at()} names container ${group.container}, which does not list it` });
    if (group.iommufd !== null) out.push({ invariant: 'vfio-group-links', detail: `${at()} is attached to container ${group.container} and ctx ${group.iommufd} at once` });
  }
  const users = group.container === null ? 0 : 1 + group.opens.filter((n) => n > 0).length;
  if (group.containerUsers !== users) out.push({ invariant: 'vfio-group-users', detail: `${at()} container_users ${group.containerUsers}, its attachment and open devices make ${users}` });
  const held = files?.size ?? 0;
  if (group.opened === null ? held > 0 : held !== 1 || files?.has(group.opened) !== true) {
    out.push({ invariant: 'vfio-group-file', detail: `${at()} opened_file ${group.opened ?? 'none'}, ${held} open files of the group` });
  }
}

/** The open files of VFIO's kinds, scanned. */
function filesOf(world: World): VfioFiles {
  const files = emptyFiles();
  for (const file of world.files.values()) fileOfVfio(files, file, 1);
  return files;
}

/**
 * Every VFIO invariant of a snapshot, in cell order: containers by id (each, then its type1
 * mappings or its TCE runs), then groups, then the pre-registered regions of each mm.
 */
export function checkVfio(world: World, out: Violation[]): void {
  const files = filesOf(world);
  const ids = [...new Set([...world.vfio.containers.keys(), ...files.containers.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const container = world.vfio.containers.get(id);
    const iommu = type1Of(container);
    const tally = emptyTally();
    for (const dma of iommu?.dmas.values() ?? []) tallyDma(tally, dma, 1);
    checkContainer(world, id, container, tally, files.containers.get(id) ?? 0, out);
    let before: VfioDma | undefined;
    for (const [key, dma] of iommu?.dmas ?? []) {
      checkDma(world, id, key, dma, before, out);
      before = dma;
    }
    let previous: { slot: number; run: TceRun } | undefined;
    for (const { iommu: spapr, slot, table, start, run } of runsOf(spaprOf(container))) {
      checkTceRun(world, id, spapr, slot, table, start, run, previous?.slot === slot ? previous.run : undefined, out);
      previous = { slot, run };
    }
  }
  for (const group of world.vfio.groups.values()) checkGroup(world, group, files.groups.get(group.id), out);
  checkRegions(world, mappedTally(world), out);
  world.devices.forEach((_, index) => checkBound(world, index, out));
}

/**
 * A header device bound to an iommufd names what its driver bound there: a DEVICE, or for an
 * emulated device an access (`vfio_iommufd_emulated_bind()`), which is attached to an IOAS
 * exactly when VFIO says it attached it (`vdev->iommufd_attached`).
 */
export function checkBound(world: World, index: number, out: Violation[]): void {
  const device = world.devices[index];
  const bound = device?.bound ?? null;
  if (device === undefined || bound === null) return;
  const obj = world.contexts.get(bound.ctx)?.objects.get(bound.device);
  const emulated = device.model.kind === 'emulated';
  if (obj?.type !== (emulated ? 'access' : 'device')) {
    out.push({ invariant: 'vfio-device-bound', detail: `device ${device.model.name} is bound as ctx ${bound.ctx} object ${bound.device}, which is no ${emulated ? 'access' : 'DEVICE'}` });
  } else if (obj.type === 'access' && (obj.ioas !== null) !== device.ridAttached) {
    out.push({ invariant: 'vfio-device-bound', detail: `device ${device.model.name}'s access is ${obj.ioas === null ? 'detached' : 'attached'}, VFIO says ${device.ridAttached ? 'attached' : 'detached'}` });
  }
}

const UNMAP_FLAG_ALL = 2n;
const UNMAP_FLAG_VADDR = 4n;

/**
 * What a successful `VFIO_IOMMU_UNMAP_DMA` of a native type1 container did, against
 * `vfio_dma_do_unmap()`'s contract: it removes whole mappings (with VADDR, invalidates their
 * vaddrs instead) and never cuts one; it reaches every mapping that starts in the range, but v1
 * reaches none when the range starts inside a mapping, and v2 (but for ALL) none that ends past
 * the range; `size` is what it reached. Costs what the unmap removed.
 */
export function checkType1Unmap(before: World, after: World, event: TraceEvent, result: Result, out: Violation[]): void {
  if (event.op !== 'VFIO_IOMMU_UNMAP_DMA' || result.errno !== null) return;
  const id = containerIssuedOn(before, event);
  const from = type1Of(id === undefined ? undefined : before.vfio.containers.get(id));
  const to = type1Of(id === undefined ? undefined : after.vfio.containers.get(id));
  if (id !== undefined && from !== undefined && to !== undefined) checkUnmap(id, from, to, event.args?.fields ?? {}, result.out['size'], out);
}

/** The native container a container ioctl went to: its fd's, by default the process's lowest container fd's. */
export function containerIssuedOn(world: World, event: TraceEvent): number | undefined {
  const process = world.processes.get(event.pid ?? world.firstPid);
  if (process === undefined) return undefined;
  const fd = event.fd ?? defaultContainerFd(world, process);
  const file = fd === undefined ? undefined : fileOf(world, process, fd);
  return file?.kind === 'container' ? file.container : undefined;
}

function checkUnmap(id: number, was: Type1, now: Type1, args: Fields, size: unknown, out: Violation[]): void {
  const flags = big(args, 'flags');
  const all = (flags & UNMAP_FLAG_ALL) !== 0n;
  const invalidate = (flags & UNMAP_FLAG_VADDR) !== 0n;
  const iova = all ? 0n : big(args, 'iova');
  const last = iova + (all ? U64_MAX : big(args, 'size')) - 1n;
  const at = (): string => `container ${id} unmap ${hex(iova)}..${hex(last)}`;
  const head = firstIntersecting(was.dmas, iova, iova);
  const blocked = !was.v2 && head !== undefined && head.start < iova;
  const reaches = (dma: VfioDma): boolean => !blocked && dma.start >= iova && dma.start <= last && (all || !was.v2 || dma.last <= last);
  let reached = 0n;
  now.dmas.changesSince(was.dmas, (key, o, n) => {
    const removed = o !== undefined && n === undefined && !invalidate;
    const invalidated = o !== undefined && n !== undefined && invalidate && !o.vaddrInvalid && n.vaddrInvalid && sameButVaddr(o, n);
    if (o !== undefined && (removed || invalidated) && reaches(o)) {
      reached += o.last - o.start + 1n;
      return;
    }
    const what = o === undefined ? 'added' : n === undefined ? 'removed' : 'changed';
    out.push({ invariant: 'type1-unmap-range', detail: `${at()} ${what} the mapping at ${hex(key)}` });
  });
  if (!blocked) {
    for (const [key, dma] of was.dmas.entriesFrom(iova)) {
      if (key > last) break;
      const left = now.dmas.get(key);
      if (reaches(dma) && left !== undefined && !(invalidate && left.vaddrInvalid)) {
        out.push({ invariant: 'type1-unmap-complete', detail: `${at()} left the mapping at ${hex(key)}` });
      }
    }
  }
  if (typeof size === 'bigint' && size !== reached) out.push({ invariant: 'type1-unmap-size', detail: `${at()} returned size ${hex(size)}, reached ${hex(reached)}` });
}

/** The mapping with nothing changed but its vaddr's validity. */
const sameButVaddr = (a: VfioDma, b: VfioDma): boolean =>
  a.start === b.start && a.last === b.last && a.vaddr === b.vaddr && a.prot === b.prot && a.owner === b.owner && a.lockedVm === b.lockedVm && a.pins === b.pins;
