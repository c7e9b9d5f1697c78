/**
 * iommufd contexts (`struct iommufd_ctx`): created by each open of /dev/iommu, destroyed when
 * the last file holding one goes (`iommufd_fops_release()`).
 */
import { OrderedMap } from '../../model/ordered-map.ts';
import { NOTHING_UNSETTLED, settle, unchargeAll } from '../pages/pages.ts';
import { storeCowBreaks } from '../../mm/cow.ts';
import { revise } from '../../model/revise.ts';
import type { CowBreak, Ctx, World } from '../../model/world.ts';

export function newContext(id: number): Ctx {
  return {
    id,
    holders: 1,
    objects: OrderedMap.empty(),
    pages: OrderedMap.empty(),
    nextPagesId: 1,
    accountMode: 'default',
    unsettled: NOTHING_UNSETTLED,
    cowBroken: OrderedMap.empty(),
    vfioIoas: null,
    vfioNoIommu: false,
  };
}

/**
 * Drops one holder of a context; the last one destroys every object in it. The kernel scans
 * the table in id order destroying each object nothing else uses, until it is empty; with
 * everything going at once the end state is the same: no objects, no pages, nothing pinned.
 */
export function releaseContext(world: World, ctxId: number): World {
  const ctx = world.contexts.get(ctxId);
  if (ctx === undefined) return world;
  if (ctx.holders > 1) {
    return revise(world, (d) => {
      d.contexts = world.contexts.set(ctxId, { ...ctx, holders: ctx.holders - 1 });
    });
  }
  const uncharged = world.config.bugs.has('release-skips-uncharge') ? world : unchargeAll(world, ctx);
  return revise(uncharged, (d) => {
    d.contexts = uncharged.contexts.delete(ctxId);
  });
}

/**
 * Stores a context back into the world, charging and uncharging what its pins changed and
 * giving the processes the copies those pins made.
 */
export function putContext(world: World, ctx: Ctx): World {
  const settled = settle(ctx.cowBroken.size === 0 ? world : storeCowBreaks(world, ctx.cowBroken.values()), ctx);
  const stored = ctx.cowBroken.size === 0 ? settled.ctx : { ...settled.ctx, cowBroken: OrderedMap.empty<number, CowBreak>() };
  return revise(settled.world, (d) => {
    d.contexts = settled.world.contexts.set(ctx.id, stored);
  });
}
