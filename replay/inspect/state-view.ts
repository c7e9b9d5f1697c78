/** The whole model state as `inspect` shows it: a documented view, not the model's own records (view-types.ts). */
import type { Ctx, OpenFile, Process, World } from '../../src/model/world.ts';
import type { Container } from '../../src/vfio/state.ts';
import { ContextNames } from './context-names.ts';
import { hex, objectView, pagesView, rangeView } from './object-view.ts';
import type { ContainerView, ContextView, FdView, HeaderDeviceView, ProcessView, StateView, UserView, VfioView } from './view-types.ts';

function fdView(fd: number, file: OpenFile, world: World, names: ContextNames): FdView {
  const base = { fd, file: file.id };
  const deviceName = (index: number): string => world.devices[index]?.model.name ?? `#${index}`;
  switch (file.kind) {
    case 'iommufd':
      return { ...base, kind: 'iommufd', ctx: names.name(file.ctx), container: file.container === true };
    case 'memfd':
      return { ...base, kind: 'memfd', size: hex(file.size), hugetlb: file.hugetlb };
    case 'dmabuf':
      return { ...base, kind: 'dmabuf', size: hex(file.size), exporter: file.exporter.kind === 'selftest' ? 'selftest' : deviceName(file.exporter.device), ranges: file.ranges, revoked: file.revoked };
    case 'access':
      return { ...base, kind: 'access', ctx: names.name(file.ctx), access: file.access };
    case 'fault':
    case 'veventq':
      return { ...base, kind: file.kind, ctx: names.name(file.ctx), object: file.object };
    case 'container':
      return { ...base, kind: 'container', container: file.container };
    case 'group':
      return { ...base, kind: 'group', group: file.group };
    case 'vfio-device':
      return { ...base, kind: 'vfio-device', group: file.group, device: deviceName(file.device), opened: file.opened };
    case 'vfio-cdev':
      return { ...base, kind: 'vfio-cdev', device: deviceName(file.device) };
    case 'other':
      return { ...base, kind: 'other', path: file.path };
  }
}

export function processView(process: Process, world: World, names: ContextNames): ProcessView {
  const { pageSize } = world.config;
  const fds: FdView[] = [];
  for (const [fd, fileId] of process.fds) {
    const file = world.files.get(fileId);
    if (file !== undefined) fds.push(fdView(fd, file, world, names));
  }
  return {
    pid: process.pid,
    uid: process.uid,
    caps: process.caps,
    rlimit_memlock: process.rlimitMemlock === null ? null : hex(process.rlimitMemlock),
    locked_vm: hex(process.lockedVm * pageSize),
    pinned_vm: hex(process.pinnedVm * pageSize),
    fds,
    mappings: [...process.mm.values()].map((m) => ({
      ...rangeView(m),
      prot: hex(m.prot),
      shared: m.shared,
      hugepage: m.hugepage,
      cow: m.cow,
      backing:
        m.backing.kind === 'anon'
          ? { kind: 'anon', object: m.backing.object, offset: hex(m.backing.offset) }
          : m.backing.kind === 'memfd'
            ? { kind: 'memfd', file: m.backing.file, offset: hex(m.backing.offset) }
            : { kind: 'named', path: m.backing.path, offset: hex(m.backing.offset) },
    })),
  };
}

export function contextView(ctx: Ctx, names: ContextNames): ContextView {
  return {
    id: ctx.id,
    name: names.name(ctx.id),
    holders: ctx.holders,
    account_mode: ctx.accountMode,
    vfio_ioas: ctx.vfioIoas,
    objects: [...ctx.objects.values()].map(objectView),
    pages: [...ctx.pages.values()].map(pagesView),
  };
}

function containerView(c: Container): ContainerView {
  const driver = c.driver;
  return {
    id: c.id,
    file_open: c.fileOpen,
    groups: c.groups,
    noiommu: c.noiommu,
    driver:
      driver === null
        ? null
        : driver.kind === 'noiommu'
          ? { kind: 'noiommu' }
          : driver.kind === 'type1'
            ? {
                kind: 'type1',
                v2: driver.iommu.v2,
                dma_avail: Number(driver.iommu.dmaAvail),
                dmas: [...driver.iommu.dmas.values()].map((d) => ({
                  iova: hex(d.start),
                  last: hex(d.last),
                  vaddr: hex(d.vaddr),
                  prot: d.prot,
                  vaddr_invalid: d.vaddrInvalid,
                  owner: d.owner,
                  locked_pages: Number(d.lockedVm),
                })),
                charged: [...driver.iommu.charged].map(([pid, pages]) => ({ pid, pages: Number(pages) })),
              }
            : {
                kind: 'spapr_tce',
                v2: driver.iommu.v2,
                enabled: driver.iommu.enabled,
                locked_pages: Number(driver.iommu.lockedPages),
                mm: driver.iommu.mm,
                windows: driver.iommu.tables.flatMap((t, slot) =>
                  t === null
                    ? []
                    : [{ slot, offset: hex(t.offset), size: hex(t.size), page_shift: t.pageShift, levels: t.levels, charged_pages: Number(t.charged), tce_runs: t.tces.size }],
                ),
              },
  };
}

export function vfioView(world: World, names: ContextNames): VfioView {
  const { vfio } = world;
  return {
    container: vfio.config.container,
    drivers: vfio.config.drivers,
    groups: [...vfio.groups.values()].map((g) => ({
      id: g.id,
      noiommu: g.noiommu,
      devices: g.devices.map((i) => world.devices[i]?.model.name ?? `#${i}`),
      opened: g.opened,
      container: g.container,
      iommufd: g.iommufd === null ? null : names.name(g.iommufd),
      container_users: g.containerUsers,
    })),
    containers: [...vfio.containers.values()].map(containerView),
    spapr_mms: [...vfio.spaprMms].map(([pid, mm]) => ({
      pid,
      regions: [...mm.regions.values()].map((r) => ({ ua: hex(r.ua), entries: Number(r.entries), used: r.used, mapped: Number(r.mapped) })),
      leaked_table_pages: Number(mm.leakedTablePages),
    })),
  };
}

export function devicesView(world: World, names: ContextNames): HeaderDeviceView[] {
  return world.devices.map((d) => ({
    name: d.model.name,
    kind: d.model.kind,
    group: d.model.group,
    cdev: d.cdev,
    bound: d.bound === null ? null : { ctx: names.name(d.bound.ctx), device: d.bound.device },
    rid_attached: d.ridAttached,
    pasids: d.pasids,
  }));
}

export function usersView(world: World): UserView[] {
  return [...world.userLockedVm].map(([uid, pages]) => ({ uid, locked_vm: hex(pages * world.config.pageSize) }));
}

export function stateView(world: World): StateView {
  const names = new ContextNames(world);
  return {
    kernel: world.config.kernel.release,
    processes: [...world.processes.values()].map((p) => processView(p, world, names)),
    users: usersView(world),
    contexts: [...world.contexts.values()].map((c) => contextView(c, names)),
    devices: devicesView(world, names),
    vfio: vfioView(world, names),
  };
}
