/**
 * Charging pinned pages (`do_update_pinned()` of pages.c, `iopt_pages_update_pinned()` in
 * newer kernels, spec §5.3): USER mode charges the owner's uid (`user->locked_vm`), MM mode the
 * owner's mm (`mm->locked_vm`), NONE nothing; every mode adds to the owner mm's `pinned_vm`. A
 * charge that would pass RLIMIT_MEMLOCK fails with ENOMEM before anything is charged; an
 * uncharge cannot fail.
 *
 * Pins change inside a command, are checked against the limit there, and are settled —
 * counters moved — when the command stores its context back into the world. What the changed
 * pages objects owe meanwhile is kept per counter (`Unsettled`), so a check is one lookup.
 */
import { Fail, fail } from '../../model/fail.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Pages, Process, Unsettled, World } from '../../model/world.ts';

// The same check fires for a pin and for IOAS_CHANGE_PROCESS's charge_current().
const USER_OVER_LIMIT = fail('ENOMEM', 'incr_user_locked_vm', 'locked_vm would pass RLIMIT_MEMLOCK');
const MM_OVER_LIMIT = fail('ENOMEM', '__account_locked_vm', 'locked_vm would pass RLIMIT_MEMLOCK');

/** A command that changed no pins. */
export const NOTHING_UNSETTLED: Unsettled = { pages: OrderedMap.empty(), user: OrderedMap.empty(), mm: OrderedMap.empty() };

/** How a new pages object made by `process` in `ctx` is accounted (`iopt_alloc_pages()`, `iopt_map_common()`). */
export function accountModeFor(process: Process, ctx: Ctx): Pages['account'] {
  if (process.caps.includes('CAP_IPC_LOCK')) return 'none';
  return ctx.accountMode === 'mm' ? 'mm' : 'user';
}

export function pinnedOf(pages: Pages): bigint {
  let n = 0n;
  for (const r of pages.pins) n += r.last - r.first + 1n;
  return n;
}

/** What a changed pages object owes its counter: pinned but not charged (negative: charged, no longer pinned). */
const owed = (pages: Pages): bigint => pinnedOf(pages) - pages.charged;

/** `unsettled` with `delta` more owed to the counter `pages` charges. */
function owe(unsettled: Unsettled, pages: Pages, delta: bigint): Unsettled {
  if (delta === 0n) return unsettled;
  if (pages.account === 'user') {
    return { ...unsettled, user: unsettled.user.set(pages.ownerUid, (unsettled.user.get(pages.ownerUid) ?? 0n) + delta) };
  }
  if (pages.account === 'mm') {
    return { ...unsettled, mm: unsettled.mm.set(pages.owner, (unsettled.mm.get(pages.owner) ?? 0n) + delta) };
  }
  return unsettled;
}

/**
 * `unsettled` after pages object `before` became `after`: a pages object already among the
 * changed ones owes what `after` owes instead of what `before` did; `changed` adds it to them.
 */
export function unsettle(unsettled: Unsettled, before: Pages, after: Pages, changed: boolean): Unsettled {
  if (unsettled.pages.has(before.id)) return owe(owe(unsettled, before, -owed(before)), after, owed(after));
  if (!changed) return unsettled;
  return owe({ ...unsettled, pages: unsettled.pages.set(after.id, true) }, after, owed(after));
}

/** RLIMIT_MEMLOCK in pages (`task_rlimit(...) >> PAGE_SHIFT`); null for RLIM_INFINITY. */
function limitOf(world: World, pid: number): bigint | null {
  const owner = world.processes.get(pid);
  if (owner === undefined || owner.rlimitMemlock === null) return null;
  return owner.rlimitMemlock / world.config.pageSize;
}

/**
 * `incr_user_locked_vm()` / `__account_locked_vm()`: may `pages`, in `ctx`, go from what it
 * has charged to `pinned` pages? ENOMEM when its owner would pass RLIMIT_MEMLOCK, counting
 * what the command's other pin changes already owe the same counter.
 */
export function checkCharge(world: World, ctx: Ctx, pages: Pages, pinned: bigint): Fail | null {
  const more = pinned - pinnedOf(pages);
  if (more <= 0n || pages.account === 'none' || world.config.bugs.has('charge-ignores-limit')) return null;
  const limit = limitOf(world, pages.owner);
  if (limit === null) return null;
  if (pages.account === 'user') {
    const current = (world.userLockedVm.get(pages.ownerUid) ?? 0n) + (ctx.unsettled.user.get(pages.ownerUid) ?? 0n);
    return current + more > limit ? USER_OVER_LIMIT : null;
  }
  const owner = world.processes.get(pages.owner);
  const current = (owner?.lockedVm ?? 0n) + (ctx.unsettled.mm.get(pages.owner) ?? 0n);
  return current + more > limit ? MM_OVER_LIMIT : null;
}

/** Moves `delta` pages onto (or off) the counters of a pages object's owner. */
export function charge(world: World, pages: Pages, delta: bigint): World {
  if (delta === 0n) return world;
  return revise(world, (d) => {
    const owner = world.processes.get(pages.owner);
    if (owner !== undefined) {
      d.processes = world.processes.set(owner.pid, {
        ...owner,
        pinnedVm: owner.pinnedVm + delta,
        lockedVm: pages.account === 'mm' ? owner.lockedVm + delta : owner.lockedVm,
      });
    }
    if (pages.account === 'user') {
      d.userLockedVm = world.userLockedVm.set(pages.ownerUid, (world.userLockedVm.get(pages.ownerUid) ?? 0n) + delta);
    }
  });
}

/** Everything a context still has charged goes back (the context is being destroyed). */
export function unchargeAll(world: World, ctx: Ctx): World {
  let next = world;
  for (const p of ctx.pages.values()) next = charge(next, p, -p.charged);
  return next;
}

/**
 * Whether `to` can take over the charges of `pages` (`charge_current()` of
 * `iommufd_ioas_change_process()`): per mode, USER before MM as the kernel's mode loop goes,
 * what moves plus what `to` already has must stay within its RLIMIT_MEMLOCK.
 */
export function checkTransfer(world: World, to: Process, pages: readonly Pages[]): Fail | null {
  const limit = limitOf(world, to.pid);
  if (limit === null) return null;
  let user = 0n;
  let mm = 0n;
  for (const p of pages) {
    if (p.account === 'user') user += p.charged;
    if (p.account === 'mm') mm += p.charged;
  }
  if (user > 0n && (world.userLockedVm.get(to.uid) ?? 0n) + user > limit) return USER_OVER_LIMIT;
  if (mm > 0n && to.lockedVm + mm > limit) return MM_OVER_LIMIT;
  return null;
}

/** Re-owns a pages object (`change_mm()`): its charge moves from the old owner to `to`. */
export function reown(world: World, pages: Pages, to: Process): { world: World; pages: Pages } {
  const released = charge(world, pages, -pages.charged);
  const moved: Pages = { ...pages, owner: to.pid, ownerUid: to.uid };
  return { world: charge(released, moved, moved.charged), pages: moved };
}
