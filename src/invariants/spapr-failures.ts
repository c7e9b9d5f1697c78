/**
 * What a SPAPR TCE ioctl keeps when it fails, as the kernel does: the mm it bound before a
 * later check failed (`tce_iommu_mm_set()` comes first in REGISTER, CREATE, REMOVE and ENABLE),
 * the default window a MAP, UNMAP or CREATE made before its own check failed, with its table
 * charge, the TCEs a failed build cleared, the copy-on-write breaks of the pages a v1 build
 * pinned before one failed (which may be all it kept), and the table charge a failed CREATE
 * never gives back. The step invariants take such a failure of an ioctl on a SPAPR TCE
 * container as a partial effect; the state invariants still hold the accounting to the sums.
 */
import type { TraceEvent } from '../../events/types.ts';
import type { World } from '../model/world.ts';
import { containerIssuedOn } from './vfio-checks.ts';

/** Fields a failed SPAPR ioctl may change in a process: its `locked_vm` and its private copies. */
const PROCESS_FIELDS: ReadonlySet<string> = new Set(['lockedVm', 'anonPages']);
/** Fields of the world: the processes, the copies' generation, VFIO. */
const WORLD_FIELDS: ReadonlySet<string> = new Set(['processes', 'nextMemObject', 'vfio']);
/** Fields of VFIO's state: the containers and the mms' SPAPR state. */
const VFIO_FIELDS: ReadonlySet<string> = new Set(['containers', 'spaprMms']);

/** Whether `after` differs from `before` only in the fields `free` names. */
function sameBut<T extends object>(before: T, after: T, free: ReadonlySet<string>): boolean {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return Object.keys(b).every((k) => free.has(k) || a[k] === b[k]);
}

/** Whether a failed command was an ioctl of a SPAPR TCE container and changed only what such an ioctl keeps. */
export function spaprKeptOnFailure(before: World, after: World, event: TraceEvent): boolean {
  const id = event.op.startsWith('VFIO_IOMMU_') ? containerIssuedOn(before, event) : undefined;
  if (id === undefined || before.vfio.containers.get(id)?.driver?.kind !== 'spapr_tce') return false;
  if (!sameBut(before, after, WORLD_FIELDS) || !sameBut(before.vfio, after.vfio, VFIO_FIELDS)) return false;
  let confined = true;
  after.vfio.containers.changesSince(before.vfio.containers, (_, was, now) => {
    if (was?.driver?.kind !== 'spapr_tce' || now?.driver?.kind !== 'spapr_tce') confined = false;
  });
  after.processes.changesSince(before.processes, (_, was, now) => {
    if (was === undefined || now === undefined || !sameBut(was, now, PROCESS_FIELDS)) confined = false;
  });
  return confined;
}
