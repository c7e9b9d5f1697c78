/**
 * What the SPAPR TCE driver's ioctls share (`tce_iommu_ioctl()`): the mm check every ioctl
 * but VFIO_CHECK_EXTENSION makes first, the mm a container binds on first use, and the reading
 * of a struct argument.
 */
import type { Fields } from '../../../events/types.ts';
import { big } from '../../model/command.ts';
import { type Fail, fail } from '../../model/fail.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import type { SpaprPe, SpaprTce } from '../spapr-state.ts';
import { groupOf, putSpapr, spaprOf } from '../store.ts';

export const WHERE = 'tce_iommu_ioctl';

/** The ioctls of the other version fall out of the switch (`break`). */
export const OTHER_VERSION = fail('ENOTTY', WHERE, 'not an ioctl of this container version');

/** A container bound to an mm answers no other (EPERM): one process may not drive another's DMA. */
export function otherMm(iommu: SpaprTce, pid: number): Fail | null {
  return iommu.mm !== null && iommu.mm !== pid ? fail('EPERM', WHERE, 'the container is bound to another mm') : null;
}

/** `tce_iommu_mm_set()`: the first ioctl that needs an mm binds the caller's. */
export function bindMm(world: World, id: number, pid: number): World {
  const iommu = spaprOf(world, id);
  return iommu.mm === null ? putSpapr(world, id, { ...iommu, mm: pid }) : world;
}

/** `copy_from_user()` of the struct (EFAULT for NULL), then its `argsz` against `minsz` (EINVAL). */
export function readStruct(arg: ContainerArg, minsz: bigint): Fail | Fields {
  if (arg.struct === null) return fail('EFAULT', WHERE, 'copy_from_user of a NULL argument');
  return big(arg.struct, 'argsz') < minsz ? fail('EINVAL', WHERE, 'argsz below minsz') : arg.struct;
}

/** The table group of the container's first group, which answers for all (`list_first_entry()`). */
export function firstPe(world: World, iommu: SpaprTce): SpaprPe {
  const first = iommu.groups[0];
  const pe = first === undefined ? null : groupOf(world, first).pe;
  if (pe === null) throw new Error('[iommufd-model] a SPAPR TCE container holds no group with a PE');
  return pe;
}
