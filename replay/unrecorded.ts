/**
 * Events whose arguments the capture did not record (trace-format.md, "Unrecorded arguments"):
 * `unknown_args` events are not run; `args_one_of` events run once per combination of the
 * values their unrecorded arguments may have had, and are decided when every combination comes
 * out the same. An undecided event leaves the state as it was and makes what it reached unsure:
 * a later divergence there may come from what the event did, so it counts as unsure.
 *
 * What an event reaches is its scope: the iommufd context, native container, group or device
 * behind its fd (the fd the dispatcher would pick when it gives none), narrowed to one IOAS when
 * the event names its `ioas_id`, and the fds it returned.
 */
import { OPS } from '../events/ops.ts';
import type { TraceEvent, Value } from '../events/types.ts';
import { fileOf } from '../src/mm/files.ts';
import type { OpenFile, Process, World } from '../src/model/world.ts';
import { defaultContainerFd } from '../src/vfio/group.ts';

/** One combination of an `args_one_of` event's values per event, in the order they vary (the last name fastest). */
export function alternatives(event: TraceEvent): TraceEvent[] {
  const oneOf = event.argsOneOf ?? {};
  let combos: { [name: string]: Value }[] = [{}];
  for (const [name, values] of Object.entries(oneOf)) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  const args = event.args ?? { size: 0, fields: {}, trailing: new Uint8Array(0) };
  return combos.map((combo) => ({ ...event, args: { ...args, fields: { ...args.fields, ...combo } } }));
}

/** The lowest fd of the process whose file passes `test`. */
function lowestFd(world: World, process: Process, test: (file: OpenFile) => boolean): number | undefined {
  for (const [fd, id] of process.fds) {
    const file = world.files.get(id);
    if (file !== undefined && test(file)) return fd;
  }
  return undefined;
}

/** The fd the event is issued on, or the one the dispatcher picks for its family when it gives none. */
function fdOf(world: World, process: Process, event: TraceEvent): number | undefined {
  if (event.fd !== undefined) return event.fd;
  switch (OPS.get(event.op)?.family) {
    case 'vfio-container':
      return defaultContainerFd(world, process);
    case 'vfio-group':
      return lowestFd(world, process, (f) => f.kind === 'group');
    case 'iommufd':
    case 'selftest':
    case 'raw':
      return lowestFd(world, process, (f) => f.kind === 'iommufd' && f.container !== true);
    default:
      return undefined;
  }
}

/** The IOAS an event names, when its `ioas_id` is recorded. */
function ioasOf(event: TraceEvent): bigint | null {
  const unknown = event.unknownArgs;
  if (unknown === true || unknown?.includes('ioas_id') === true || event.argsOneOf?.['ioas_id'] !== undefined) return null;
  const id = event.args?.fields['ioas_id'];
  return typeof id === 'bigint' ? id : null;
}

/** What the file behind an fd reaches. */
function reachOf(world: World, file: OpenFile): string {
  switch (file.kind) {
    case 'iommufd':
    case 'access':
    case 'fault':
    case 'veventq':
      return `ctx:${file.ctx}`;
    case 'container':
      return `container:${file.container}`;
    case 'group':
      return `group:${file.group}`;
    case 'vfio-cdev':
    case 'vfio-device': {
      const bound = world.devices[file.device]?.bound ?? null;
      return bound === null ? `device:${file.device}` : `ctx:${bound.ctx}`;
    }
    default:
      return `file:${file.id}`;
  }
}

/** The scope of an event: one key, or a context key narrowed to an IOAS (`ctx:1/ioas:2`). */
function scopeOf(world: World, event: TraceEvent): string {
  const pid = event.pid ?? world.firstPid;
  const process = world.processes.get(pid);
  if (process === undefined) return `process:${pid}`;
  const fd = fdOf(world, process, event);
  const file = fd === undefined ? undefined : fileOf(world, process, fd);
  if (file === undefined) return fd === undefined ? `process:${pid}` : `fd:${pid}:${fd}`;
  const reach = reachOf(world, file);
  const ioas = ioasOf(event);
  return ioas !== null && reach.startsWith('ctx:') ? `${reach}/ioas:${ioas}` : reach;
}

/** fds an event returned (`expect.out`), which no later event can trust after an undecided one. */
function returnedFds(world: World, event: TraceEvent): string[] {
  const pid = event.pid ?? world.firstPid;
  const out = event.expect?.out ?? {};
  return ['fd', 'ret', 'out_access_fd', 'out_fault_fd', 'out_veventq_fd']
    .map((name) => out[name])
    .filter((v): v is bigint => typeof v === 'bigint')
    .map((fd) => `fd:${pid}:${fd}`);
}

/** The scopes undecided events made unsure, each with the line of the first event that did. */
export class UnsureScopes {
  private readonly scopes = new Map<string, number>();

  /** Records an undecided event at `world`, the state it met. */
  add(world: World, event: TraceEvent): void {
    for (const key of [scopeOf(world, event), ...returnedFds(world, event)]) {
      if (!this.scopes.has(key)) this.scopes.set(key, event.line);
    }
  }

  /**
   * The line of the undecided event whose scope `event` shares, if any. A context-wide key
   * covers its IOASes; an event on a whole context meets every IOAS of it.
   */
  reached(world: World, event: TraceEvent): number | null {
    if (this.scopes.size === 0) return null;
    const scope = scopeOf(world, event);
    const pid = event.pid ?? world.firstPid;
    const whole = scope.split('/')[0] as string;
    const fd = event.fd === undefined ? null : this.scopes.get(`fd:${pid}:${event.fd}`);
    if (fd !== null && fd !== undefined) return fd;
    for (const [key, line] of this.scopes) {
      if (key === scope || key === whole || (scope === whole && key.startsWith(`${whole}/`))) return line;
    }
    return null;
  }
}
