/**
 * Charging pinned pages (`do_update_pinned()` of pages.c, spec §5.3): USER mode charges the
 * owner's uid (`user->locked_vm`), MM mode the owner's mm (`mm->locked_vm`), NONE nothing;
 * every mode adds to the owner mm's `pinned_vm`. A charge that would pass RLIMIT_MEMLOCK fails
 * with ENOMEM before anything is charged; an uncharge cannot fail.
 *
 * Pins change inside a command (`rehold`), are checked against the limit there, and are
 * settled — counters moved — when the command stores its context back into the world.
 */
import { Fail, fail } from '../../model/fail.ts';
import { mutated } from '../../model/mutants.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Pages, Process, World } from '../../model/world.ts';

/** How a new pages object made by `process` in `ctx` is accounted (`iopt_alloc_pages()`, `iopt_map_common()`). */
export function accountModeFor(process: Process, ctx: Ctx): Pages['account'] {
  if (process.caps.includes('CAP_IPC_LOCK')) return 'none';
  return ctx.accountMode === 'mm' ? 'mm' : 'user';
}

/** Pages pinned but not yet charged (or charged but no longer pinned) in this command. */
function pendingFor(ctx: Ctx, owner: (p: Pages) => boolean): bigint {
  let n = 0n;
  for (const id of new Set(ctx.unsettled)) {
    const p = ctx.pages.get(id);
    if (p !== undefined && owner(p)) n += pinnedOf(p) - p.charged;
  }
  return n;
}

export function pinnedOf(pages: Pages): bigint {
  let n = 0n;
  for (const r of pages.pins) n += r.last - r.first + 1n;
  return n;
}

/** RLIMIT_MEMLOCK in pages (`task_rlimit(...) >> PAGE_SHIFT`); null for RLIM_INFINITY. */
function limitOf(world: World, pid: number): bigint | null {
  const owner = world.processes.get(pid);
  if (owner === undefined || owner.rlimitMemlock === null) return null;
  return owner.rlimitMemlock / world.config.pageSize;
}

/**
 * `incr_user_locked_vm()` / `__account_locked_vm()`: may `pages`, in `ctx`, go from what it
 * has charged to `pinned` pages? ENOMEM when its owner would pass RLIMIT_MEMLOCK.
 */
export function checkCharge(world: World, ctx: Ctx, pages: Pages, pinned: bigint): Fail | null {
  const more = pinned - pinnedOf(pages);
  if (more <= 0n || pages.account === 'none' || mutated('charge-ignores-limit')) return null;
  const limit = limitOf(world, pages.owner);
  if (limit === null) return null;
  if (pages.account === 'user') {
    const current = (world.userLockedVm.get(pages.ownerUid) ?? 0n) + pendingFor(ctx, (p) => p.account === 'user' && p.ownerUid === pages.ownerUid);
    return current + more > limit ? fail('ENOMEM') : null;
  }
  const owner = world.processes.get(pages.owner);
  const current = (owner?.lockedVm ?? 0n) + pendingFor(ctx, (p) => p.account === 'mm' && p.owner === pages.owner);
  return current + more > limit ? fail('ENOMEM') : null;
}

/** Moves `delta` pages onto (or off) the counters of a pages object's owner. */
function move(world: World, pages: Pages, delta: bigint): World {
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

/**
 * Charges and uncharges what the command's pin changes left pending, and frees the pages
 * objects no area uses any more; the context comes back settled.
 */
export function settle(world: World, ctx: Ctx): { world: World; ctx: Ctx } {
  if (ctx.unsettled.length === 0) return { world, ctx };
  let next = world;
  let pages = ctx.pages;
  for (const id of new Set(ctx.unsettled)) {
    const p = pages.get(id);
    if (p === undefined) continue;
    const pinned = p.areaRefs === 0 ? 0n : pinnedOf(p);
    const delta = pinned - p.charged;
    next = move(next, p, mutated('double-charge') && delta > 0n ? 2n * delta : delta);
    pages = p.areaRefs === 0 ? pages.delete(id) : pages.set(id, { ...p, charged: pinned });
  }
  return {
    world: next,
    ctx: revise(ctx, (d) => {
      d.pages = pages;
      d.unsettled = [];
    }),
  };
}

/** Everything a context still has charged goes back (the context is being destroyed). */
export function unchargeAll(world: World, ctx: Ctx): World {
  let next = world;
  for (const p of ctx.pages.values()) next = move(next, p, -p.charged);
  return next;
}

/**
 * Whether `to` can take over the charges of `pages` (`iommufd_ioas_change_process()`):
 * per mode, what moves plus what `to` already has must stay within its RLIMIT_MEMLOCK.
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
  if (user > 0n && (world.userLockedVm.get(to.uid) ?? 0n) + user > limit) return fail('ENOMEM');
  if (mm > 0n && to.lockedVm + mm > limit) return fail('ENOMEM');
  return null;
}

/** Re-owns a pages object (IOAS_CHANGE_PROCESS): its charge moves from the old owner to `to`. */
export function reown(world: World, pages: Pages, to: Process): { world: World; pages: Pages } {
  const released = move(world, pages, -pages.charged);
  const moved: Pages = { ...pages, owner: to.pid, ownerUid: to.uid };
  return { world: move(released, moved, moved.charged), pages: moved };
}
