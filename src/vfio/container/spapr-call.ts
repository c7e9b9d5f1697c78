/**
 * What the SPAPR TCE driver's ioctls share (`tce_iommu_ioctl()`): the mm check every ioctl
 * but VFIO_CHECK_EXTENSION makes first, the mm a container binds on first use, and the reading
 * of a struct argument.
 */
import type { Fields } from '../../../events/types.ts';
import { type Call, big } from '../../model/command.ts';
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

/**
 * Before Linux 4.10 the container kept no mm: each ioctl charged, looked up and uncharged
 * `current->mm` (bc82d122ae4a made it bind one and refuse others). With the
 * `spapr-current-mm` bug on, a bound container is rebound to the caller's mm at each ioctl.
 */
export function currentMm(call: Call, id: number): Call {
  const iommu = spaprOf(call.world, id);
  if (!call.world.config.bugs.has('spapr-current-mm') || iommu.mm === null || iommu.mm === call.process.pid) return call;
  return { ...call, world: putSpapr(call.world, id, { ...iommu, mm: call.process.pid }) };
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
