/**
 * Type1's charging of pinned pages (`vfio_lock_acct()`, `mm_lock_acct()` over
 * `__account_locked_vm()` of mm/util.c): pages go onto the `locked_vm` of the mm that mapped
 * them, against its task's RLIMIT_MEMLOCK unless that task had CAP_IPC_LOCK, and come off that
 * same mm, not the current one, so that a mapping outliving an exec or a fork is uncharged
 * where it was charged. An mm that is gone is skipped (`mmget_not_zero()` fails).
 */
import { Fail, fail } from '../../model/fail.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { revise } from '../../model/revise.ts';
import type { Process, World } from '../../model/world.ts';

const OVER_LIMIT = fail('ENOMEM', '__account_locked_vm', 'locked_vm would pass RLIMIT_MEMLOCK');

/** How many more pages `process` may lock: null when unlimited or bypassed. */
export function lockRoom(world: World, process: Process, lockCap: boolean): bigint | null {
  if (lockCap || process.rlimitMemlock === null) return null;
  const limit = process.rlimitMemlock / world.config.pageSize;
  return limit > process.lockedVm ? limit - process.lockedVm : 0n;
}

function withLocked(world: World, process: Process, lockedVm: bigint): World {
  return revise(world, (d) => {
    d.processes = world.processes.set(process.pid, { ...process, lockedVm });
  });
}

/** Whether `npage` more pages fit under `pid`'s limit: ENOMEM when they do not, unless `lockCap`. */
export function chargeRefusal(world: World, pid: number, npage: bigint, lockCap: boolean): Fail | null {
  const process = world.processes.get(pid);
  if (process === undefined || npage === 0n) return null;
  const room = lockRoom(world, process, lockCap);
  return room !== null && npage > room ? OVER_LIMIT : null;
}

/** Charges `npage` pages to `pid`'s mm: ENOMEM past its limit unless `lockCap`. */
export function charge(world: World, pid: number, npage: bigint, lockCap: boolean): Fail | World {
  const refused = chargeRefusal(world, pid, npage, lockCap);
  if (refused !== null) return refused;
  const process = world.processes.get(pid);
  return process === undefined || npage === 0n ? world : withLocked(world, process, process.lockedVm + npage);
}

/** Takes `npage` pages off `pid`'s mm, if it still exists. */
export function uncharge(world: World, pid: number, npage: bigint): World {
  const process = world.processes.get(pid);
  if (process === undefined || npage === 0n) return world;
  return withLocked(world, process, process.lockedVm - npage);
}

/** A container's per-owner charges with `delta` more pages on `pid`. */
export function owed(charged: OrderedMap<number, bigint>, pid: number, delta: bigint): OrderedMap<number, bigint> {
  const v = (charged.get(pid) ?? 0n) + delta;
  return v === 0n ? charged.delete(pid) : charged.set(pid, v);
}
