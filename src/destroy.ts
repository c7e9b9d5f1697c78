/**
 * `IOMMU_DESTROY` (`iommufd_destroy()`, spec §3.1/§1.4): an object goes only when nothing but
 * the object table holds it; its lifecycle machine decides.
 */
import type { Fields } from '../events/types.ts';
import { accepts } from '../machines/adapter.ts';
import { ioasMachine } from '../machines/ioas.machine.ts';
import { type Call, type Result, num, ok, refuse } from './command.ts';
import { fail } from './fail.ts';
import { dropAreaRefs, putContext } from './ioas.ts';
import { revise } from './revise.ts';
import type { Ctx, Ioas } from './world.ts';

export function destroy(call: Call, ctx: Ctx, cmd: Fields): Result {
  const obj = ctx.objects.get(num(cmd, 'id'));
  if (obj === undefined) return refuse(call, fail('ENOENT'));
  if (!accepts(ioasMachine, obj.lifecycle, { type: 'DESTROY' })) return refuse(call, fail('EBUSY'));
  return ok(putContext(call.world, destroyIoas(ctx, obj)));
}

/** `iommufd_ioas_destroy()`: every area goes with it, and a compat pointer to it is cleared. */
export function destroyIoas(ctx: Ctx, ioas: Ioas): Ctx {
  const next = dropAreaRefs(ctx, [...ioas.iopt.areas.values()]);
  return revise(next, (d) => {
    d.objects = next.objects.delete(ioas.id);
    if (d.vfioIoas === ioas.id) d.vfioIoas = null;
  });
}
