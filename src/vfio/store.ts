/**
 * Reading and writing VFIO's part of the world: groups by number, native containers by id. A
 * container goes when nothing holds it any more (`vfio_container_put()`): its /dev/vfio/vfio
 * file is closed and no group is attached.
 */
import { revise } from '../model/revise.ts';
import type { Process, World } from '../model/world.ts';
import type { SpaprTce } from './spapr-state.ts';
import type { Container, Type1, VfioGroup } from './state.ts';

export function groupOf(world: World, id: number): VfioGroup {
  const group = world.vfio.groups.get(id);
  if (group === undefined) throw new Error(`[iommufd-model] no VFIO group ${id}`);
  return group;
}

export function containerOf(world: World, id: number): Container {
  const container = world.vfio.containers.get(id);
  if (container === undefined) throw new Error(`[iommufd-model] no VFIO container ${id}`);
  return container;
}

export function putGroup(world: World, group: VfioGroup): World {
  if (world.vfio.groups.get(group.id) === group) return world;
  return revise(world, (d) => {
    d.vfio = { ...world.vfio, groups: world.vfio.groups.set(group.id, group) };
  });
}

export function putContainer(world: World, container: Container): World {
  const { containers } = world.vfio;
  if (containers.get(container.id) === container) return world;
  const held = container.fileOpen || container.groups.length > 0;
  return revise(world, (d) => {
    d.vfio = { ...world.vfio, containers: held ? containers.set(container.id, container) : containers.delete(container.id) };
  });
}

/** A new empty container (`vfio_fops_open()`). */
export function newContainer(world: World): { world: World; container: Container } {
  const container: Container = { id: world.vfio.nextContainer, fileOpen: true, groups: [], noiommu: false, driver: null };
  const next = revise(world, (d) => {
    d.vfio = { ...world.vfio, containers: world.vfio.containers.set(container.id, container), nextContainer: container.id + 1 };
  });
  return { world: next, container };
}

/** `capable(cap)` of the process issuing the event. */
export const capable = (process: Process, cap: string): boolean => process.caps.includes(cap);

/** The world with container `id`'s type1 driver data replaced. */
export function putType1(world: World, id: number, iommu: Type1): World {
  const container = containerOf(world, id);
  const driver = container.driver;
  if (driver?.kind !== 'type1') throw new Error(`[iommufd-model] container ${id} has no type1 driver`);
  return driver.iommu === iommu ? world : putContainer(world, { ...container, driver: { kind: 'type1', iommu } });
}

/** Container `id`'s SPAPR TCE driver data. */
export function spaprOf(world: World, id: number): SpaprTce {
  const driver = containerOf(world, id).driver;
  if (driver?.kind !== 'spapr_tce') throw new Error(`[iommufd-model] container ${id} has no SPAPR TCE driver`);
  return driver.iommu;
}

/** The world with container `id`'s SPAPR TCE driver data replaced. */
export function putSpapr(world: World, id: number, iommu: SpaprTce): World {
  const container = containerOf(world, id);
  return spaprOf(world, id) === iommu ? world : putContainer(world, { ...container, driver: { kind: 'spapr_tce', iommu } });
}

/** The VFIO group a header device is in, if it has one. */
export function groupOfDevice(world: World, index: number): VfioGroup | undefined {
  for (const group of world.vfio.groups.values()) if (group.devices.includes(index)) return group;
  return undefined;
}

/** How many times a header device is open through its group. */
export function groupOpens(world: World, index: number): number {
  const group = groupOfDevice(world, index);
  return group === undefined ? 0 : (group.opens[group.devices.indexOf(index)] ?? 0);
}
