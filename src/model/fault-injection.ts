/**
 * Failure injection in the manner of the kernel's fail_nth: while a command runs with
 * `fail_nth = k`, the k-th injection point it reaches fails (allocations with ENOMEM, the
 * `iommufd_should_fail()` sites with theirs). The kernel keeps this state per task for the
 * duration of one syscall; the model keeps it for the duration of one step, set and cleared by
 * the dispatcher, so a replay is as deterministic with injection as without.
 */
import type { Errno } from '../../events/errno.ts';
import { type Fail, fail } from './fail.ts';

interface Plan {
  readonly nth: number;
  seen: number;
  fired: boolean;
}

let active: Plan | null = null;

/**
 * An injection point: returns the failure to report when this is the point the running
 * command's plan targets, else null. `errno` is what the kernel's site returns (ENOMEM for an
 * allocation); `where` names the kernel function whose `iommufd_should_fail()` fires.
 */
export function injected(errno: Errno = 'ENOMEM', where = 'should_fail'): Fail | null {
  if (active === null) return null;
  active.seen++;
  if (active.seen !== active.nth) return null;
  active.fired = true;
  return fail(errno, where, 'fail_nth injection');
}

/** Runs `command` with its `nth` injection point failing; `fired` says whether it was reached. */
export function withFailNth<T>(nth: number | undefined, command: () => T): { value: T; fired: boolean; points: number } {
  if (nth === undefined) return { value: command(), fired: false, points: 0 };
  const outer = active;
  const plan: Plan = { nth, seen: 0, fired: false };
  active = plan;
  try {
    return { value: command(), fired: plan.fired, points: plan.seen };
  } finally {
    active = outer;
  }
}
