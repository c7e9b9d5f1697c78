/**
 * The fd of a FAULT or VEVENTQ object (`iommufd_eventq_init()`, eventq.c): an anonymous file
 * holding a reference on its object and on the iommufd context until it is closed.
 */
import type { Call } from '../../model/command.ts';
import { putContext, releaseContext } from '../main/context.ts';
import { chooseFd, installFile } from '../../mm/files.ts';
import { adjustUsers } from '../main/object-refs.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, World } from '../../model/world.ts';

/** Installs the object's fd (recorded under `fdField`); the context gains a holder. */
export function openEventqFile(
  call: Call,
  ctx: Ctx,
  kind: 'fault' | 'veventq',
  objectId: number,
  fdField: string,
): { world: World; fd: number } {
  const fd = chooseFd(call.process, call.choices, fdField);
  const held = revise(ctx, (d) => {
    d.holders = ctx.holders + 1;
  });
  const world = installFile(putContext(call.world, held), call.process.pid, fd, { kind, ctx: ctx.id, object: objectId });
  return { world, fd };
}

/** `iommufd_eventq_fops_release()`: the object loses the file's reference, the context a holder. */
export function releaseEventqFile(world: World, ctxId: number, objectId: number): World {
  const ctx = world.contexts.get(ctxId);
  if (ctx === undefined) return world;
  return releaseContext(putContext(world, adjustUsers(ctx, objectId, 'USER_PUT')), ctxId);
}
