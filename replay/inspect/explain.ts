/**
 * `replay --explain`: the part of the state a diverging event names, as it was when the event
 * ran, so that a divergence says why. The event's context (its fd, else the issuing process's
 * first /dev/iommu fd, else the context its header device is bound to); every object its
 * arguments name by id, with its users; around each IOVA range it names, the IOAS's areas
 * meeting the range and the nearest one on either side, the allowed ranges and reservations
 * there, and the pages objects behind those areas with their pins; the issuing process's
 * counters against its limit.
 */
import type { TraceEvent, Value } from '../../events/types.ts';
import { U64_MAX, intersecting } from '../../src/model/ranges.ts';
import type { Ctx, Ioas, World } from '../../src/model/world.ts';
import { ContextNames, fileContext } from './context-names.ts';
import { areaView, hex, objectView } from './object-view.ts';
import { ioasWindow } from './select.ts';
import type { AreaView, Hex, IoasView, IoasWindowView, ObjectView } from './view-types.ts';

/** A window an event names; its `areas` also hold the nearest area below it and above it. */
export interface WindowExplanation extends IoasWindowView {
  /** The arguments naming it: `ioas_id iova length`, `src_ioas_id src_iova length`, ... */
  readonly fields: string;
}

/** An object an event names; an IOAS without its areas (they can be many), which `windows` show where the event looked. */
export type ExplainedObject = Exclude<ObjectView, IoasView> | (Omit<IoasView, 'areas'> & { readonly area_count: number });

export interface Explanation {
  /** The context the event went to, by name; null when it names none. */
  readonly context: string | null;
  /** Each argument naming an object by id, and that object, or null when there is none. */
  readonly objects: readonly { readonly field: string; readonly id: number; readonly object: ExplainedObject | null }[];
  readonly windows: readonly WindowExplanation[];
  /** The issuing process's counters, in bytes, against its limit; null when it is not there. */
  readonly process: {
    readonly pid: number;
    readonly uid: number;
    readonly rlimit_memlock: Hex | null;
    readonly locked_vm: Hex;
    readonly pinned_vm: Hex;
    readonly user_locked_vm: Hex;
  } | null;
}

/** Arguments ending in `id` that name no object: outputs, option numbers, virtual ids. */
const NOT_OBJECTS = /^out_|^option_id$|^virt_id$|^vdev_id$/;
/** IOVA ranges by the arguments that give them: the IOAS (null: from the object `id` names, else the VFIO compat IOAS), start and length. */
const RANGES: readonly (readonly [string | null, string, readonly string[]])[] = [
  ['ioas_id', 'iova', ['length', 'size']],
  ['src_ioas_id', 'src_iova', ['length']],
  ['dst_ioas_id', 'dst_iova', ['length']],
  [null, 'iova', ['length', 'size']],
];

function eventContext(event: TraceEvent, world: World): Ctx | null {
  const process = world.processes.get(event.pid ?? world.firstPid);
  const fileAt = (fd: number) => {
    const id = process?.fds.get(fd);
    return id === undefined ? undefined : world.files.get(id);
  };
  let ctx: number | null = null;
  if (event.fd !== undefined) {
    const file = fileAt(event.fd);
    ctx = file === undefined ? null : fileContext(file);
  } else {
    for (const [fd] of process?.fds ?? []) {
      const file = fileAt(fd);
      if (file?.kind === 'iommufd' && file.container !== true) {
        ctx = file.ctx;
        break;
      }
    }
  }
  const dev = event.args?.fields['dev'];
  if (ctx === null && typeof dev === 'string') ctx = world.devices.find((d) => d.model.name === dev)?.bound?.ctx ?? null;
  return ctx === null ? null : (world.contexts.get(ctx) ?? null);
}

const big = (v: Value | undefined): bigint | null => (typeof v === 'bigint' ? v : null);

function windows(event: TraceEvent, ctx: Ctx): WindowExplanation[] {
  const fields = event.args?.fields ?? {};
  const out: WindowExplanation[] = [];
  const seen = new Set<string>();
  for (const [ioasField, iovaField, lengthFields] of RANGES) {
    const iova = big(fields[iovaField]);
    if (iova === null || seen.has(iovaField) || (ioasField !== null && big(fields[ioasField]) === null)) continue;
    const ioas = ioasNamed(ctx, ioasField === null ? null : big(fields[ioasField]), big(fields['id']));
    if (ioas === null) continue;
    seen.add(iovaField);
    const lengthField = lengthFields.find((f) => big(fields[f]) !== null);
    const length = lengthField === undefined ? 1n : (big(fields[lengthField]) as bigint);
    const last = length === 0n ? iova : iova + length - 1n > U64_MAX ? U64_MAX : iova + length - 1n;
    const around = ioasWindow(ctx, ioas, iova, last);
    out.push({
      fields: [ioasField ?? (big(fields['id']) !== null ? 'id' : 'vfio_ioas'), iovaField, ...(lengthField === undefined ? [] : [lengthField])].join(' '),
      ioas: ioas.id,
      window: { start: hex(iova), last: hex(last) },
      ...around,
      areas: neighbours(ioas, iova, last, around.areas),
    });
  }
  return out;
}

/** The IOAS an IOVA range is in: the one `ioasId` names, else the one object `id` is or is attached to, else the VFIO compat IOAS. */
function ioasNamed(ctx: Ctx, ioasId: bigint | null, id: bigint | null): Ioas | null {
  const ioasOf = (n: number | null) => {
    const o = n === null ? undefined : ctx.objects.get(n);
    return o?.type === 'ioas' ? o : null;
  };
  if (ioasId !== null) return ioasOf(Number(ioasId));
  const named = id === null ? undefined : ctx.objects.get(Number(id));
  if (named?.type === 'ioas') return named;
  if (named?.type === 'access') return ioasOf(named.ioas);
  return ioasOf(ctx.vfioIoas);
}

/** The areas meeting `[first, last]` (`meeting`), with the nearest one below and above them. */
function neighbours(ioas: Ioas, first: bigint, last: bigint, meeting: readonly AreaView[]): AreaView[] {
  const areas = ioas.iopt.areas;
  const met = [...intersecting(areas, first, last)];
  const lowest = met[0]?.start ?? first;
  const highest = met[met.length - 1]?.start ?? last;
  const below = lowest === 0n ? undefined : areas.atOrBelow(lowest - 1n)?.[1];
  const above = areas.above(highest)?.[1];
  return [...(below === undefined ? [] : [areaView(below)]), ...meeting, ...(above === undefined ? [] : [areaView(above)])];
}

function explained(view: ObjectView): ExplainedObject {
  if (view.type !== 'ioas') return view;
  const { areas, ...rest } = view;
  return { ...rest, area_count: areas.length };
}

export function explainEvent(event: TraceEvent, world: World): Explanation {
  const ctx = eventContext(event, world);
  const fields = event.args?.fields ?? {};
  const objects = ctx === null
    ? []
    : Object.entries(fields).flatMap(([field, v]) => {
        if (!/(^|_)id$/.test(field) || NOT_OBJECTS.test(field) || typeof v !== 'bigint' || v > 0xffffffffn) return [];
        const obj = ctx.objects.get(Number(v));
        return [{ field, id: Number(v), object: obj === undefined ? null : explained(objectView(obj)) }];
      });
  const process = world.processes.get(event.pid ?? world.firstPid);
  const { pageSize } = world.config;
  return {
    context: ctx === null ? null : new ContextNames(world).name(ctx.id),
    objects,
    windows: ctx === null ? [] : windows(event, ctx),
    process:
      process === undefined
        ? null
        : {
            pid: process.pid,
            uid: process.uid,
            rlimit_memlock: process.rlimitMemlock === null ? null : hex(process.rlimitMemlock),
            locked_vm: hex(process.lockedVm * pageSize),
            pinned_vm: hex(process.pinnedVm * pageSize),
            user_locked_vm: hex((world.userLockedVm.get(process.uid) ?? 0n) * pageSize),
          },
  };
}
