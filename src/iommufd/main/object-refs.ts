/**
 * Looking objects up by id and counting their users (spec §1.2-1.3). A lookup sees only live
 * objects: a tombstone (a VDEVICE id left reserved) is absent to every lookup, as the
 * kernel's `xa_load()` of an `XA_ZERO_ENTRY` is.
 */
import { putContext } from './context.ts';
import { nextRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { Fail, fail } from '../../model/fail.ts';
import { revise } from '../../model/revise.ts';
import type {
  Ctx,
  Fault,
  HwQueue,
  HwptNested,
  HwptPaging,
  IommuObject,
  SelftestDev,
  Vdevice,
  Veventq,
  Viommu,
  World,
} from '../../model/world.ts';

export type ObjectType = IommuObject['type'];
export type ObjectOf<T extends ObjectType> = Extract<IommuObject, { type: T }>;

/** The objects whose users count lives in the plain object machine. */
export type Counted = HwptPaging | HwptNested | Viommu | Vdevice | Veventq | Fault | HwQueue | SelftestDev;

/** `iommufd_get_object(ictx, id, IOMMUFD_OBJ_ANY)`: a live object, or undefined. */
export function liveObject(ctx: Ctx, id: number): IommuObject | undefined {
  const obj = ctx.objects.get(id);
  return obj === undefined || obj.type === 'tombstone' ? undefined : obj;
}

/** `iommufd_get_object(ictx, id, type)`: ENOENT when absent or of another type. */
export function lookup<T extends ObjectType>(ctx: Ctx, id: number, type: T): ObjectOf<T> | Fail {
  const obj = ctx.objects.get(id);
  return obj !== undefined && obj.type === type ? (obj as ObjectOf<T>) : fail('ENOENT', 'iommufd_get_object', `no ${type} with this id`);
}

/** An object the model's own bookkeeping names: its absence is a model bug. */
export function mustGet<T extends ObjectType>(ctx: Ctx, id: number, type: T): ObjectOf<T> {
  const obj = lookup(ctx, id, type);
  if (obj instanceof Fail) throw new Error(`[iommufd-model] no ${type} ${id}`);
  return obj;
}

export function putObject(ctx: Ctx, obj: IommuObject): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.set(obj.id, obj);
  });
}

export function dropObject(ctx: Ctx, id: number): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.delete(id);
  });
}

/** `times` more (USER_GET) or fewer (USER_PUT) users of an object. */
export function withUsers<T extends Counted>(obj: T, event: 'USER_GET' | 'USER_PUT', times = 1): T {
  let lifecycle = obj.lifecycle;
  for (let i = 0; i < times; i++) lifecycle = nextRecord(objectMachine, lifecycle, { type: event });
  return lifecycle === obj.lifecycle ? obj : { ...obj, lifecycle };
}

/** Adjusts the users of the object `id` in the context (it must exist). */
export function adjustUsers(ctx: Ctx, id: number, event: 'USER_GET' | 'USER_PUT', times = 1): Ctx {
  const obj = ctx.objects.get(id);
  if (obj === undefined || !isCounted(obj)) throw new Error(`[iommufd-model] object ${id} has no users count to adjust`);
  return putObject(ctx, withUsers(obj, event, times));
}

function isCounted(obj: IommuObject): obj is Counted {
  return obj.type !== 'ioas' && obj.type !== 'device' && obj.type !== 'access' && obj.type !== 'tombstone';
}

/** The world with the command's context stored back, or the very same world when it did not change. */
export function commit(world: World, before: Ctx, after: Ctx): World {
  return after === before ? world : putContext(world, after);
}
