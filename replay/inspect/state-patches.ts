/**
 * The state views of consecutive events, as the first in full and then what each event changed,
 * for the HTML page to rebuild any of them. What changed is found as `diff` finds it: the
 * persistent maps of two snapshots share what neither changed, and an unchanged record is the
 * same object, so a patch costs what the event changed, not the whole state. A patch replaces
 * whole records (a process, a context's head, an object, a pages object): the page sets them.
 */
import type { Ctx, World } from '../../src/model/world.ts';
import { ContextNames } from './context-names.ts';
import { objectView, pagesView } from './object-view.ts';
import { devicesView, processView, usersView, vfioView } from './state-view.ts';
import type { HeaderDeviceView, ObjectView, PagesView, ProcessView, UserView, VfioView } from './view-types.ts';

export interface ContextHead {
  readonly id: number;
  readonly name: string;
  readonly holders: number;
  readonly account_mode: string;
  readonly vfio_ioas: number | null;
}

/** A context as the page keeps it: its head, its objects and its pages objects by id. */
export interface ContextPatch {
  readonly head?: ContextHead;
  /** By id; null: gone. */
  readonly objects?: { readonly [id: number]: ObjectView | null };
  readonly pages?: { readonly [id: number]: PagesView | null };
}

export interface StatePatch {
  readonly processes?: { readonly [pid: number]: ProcessView | null };
  readonly users?: readonly UserView[];
  /** By id; null: closed. A context opened comes whole. */
  readonly contexts?: { readonly [id: number]: ContextPatch | null };
  readonly devices?: readonly HeaderDeviceView[];
  readonly vfio?: VfioView;
  readonly kernel?: string;
}

const head = (ctx: Ctx, names: ContextNames): ContextHead => ({
  id: ctx.id,
  name: names.name(ctx.id),
  holders: ctx.holders,
  account_mode: ctx.accountMode,
  vfio_ioas: ctx.vfioIoas,
});

/** A context in full, as a patch that makes it. */
function wholeContext(ctx: Ctx, names: ContextNames): ContextPatch {
  const objects: { [id: number]: ObjectView } = {};
  const pages: { [id: number]: PagesView } = {};
  for (const [id, o] of ctx.objects) objects[id] = objectView(o);
  for (const [id, p] of ctx.pages) pages[id] = pagesView(p);
  return { head: head(ctx, names), objects, pages };
}

/** Whether any context is named otherwise: an fd holding it opened or closed. */
function renamed(a: World, b: World, na: ContextNames, nb: ContextNames): boolean {
  for (const id of b.contexts.keys()) if (a.contexts.has(id) && na.name(id) !== nb.name(id)) return true;
  return false;
}

export function statePatch(a: World, b: World): StatePatch {
  if (a === b) return {};
  const [na, nb] = [new ContextNames(a), new ContextNames(b)];
  const names = renamed(a, b, na, nb);
  const patch: {
    processes?: { [pid: number]: ProcessView | null };
    users?: UserView[];
    contexts?: { [id: number]: ContextPatch | null };
    devices?: HeaderDeviceView[];
    vfio?: VfioView;
    kernel?: string;
  } = {};
  const processes: { [pid: number]: ProcessView | null } = {};
  // A renamed context shows in every fd holding it: every process is sent again.
  if (names) for (const [pid, p] of b.processes) processes[pid] = processView(p, b, nb);
  b.processes.changesSince(a.processes, (pid, _was, now) => {
    processes[pid] = now === undefined ? null : processView(now, b, nb);
  });
  // An fd shows its open file (a memfd's size): a process whose file changed is sent again.
  const files = new Set<number>();
  b.files.changesSince(a.files, (id, _was, now) => {
    if (now !== undefined) files.add(id);
  });
  if (files.size > 0) {
    for (const [pid, p] of b.processes) {
      if (processes[pid] === undefined && [...p.fds.values()].some((f) => files.has(f))) processes[pid] = processView(p, b, nb);
    }
  }
  if (Object.keys(processes).length > 0) patch.processes = processes;
  if (b.userLockedVm !== a.userLockedVm) patch.users = usersView(b);
  const contexts: { [id: number]: ContextPatch | null } = {};
  b.contexts.changesSince(a.contexts, (id, was, now) => {
    contexts[id] = now === undefined ? null : was === undefined ? wholeContext(now, nb) : contextPatch(was, now, nb);
  });
  if (names) for (const [id, ctx] of b.contexts) if (a.contexts.has(id) && na.name(id) !== nb.name(id)) contexts[id] = { ...contexts[id], head: head(ctx, nb) };
  if (Object.keys(contexts).length > 0) patch.contexts = contexts;
  if (b.devices !== a.devices || names) patch.devices = devicesView(b, nb);
  if (b.vfio !== a.vfio || names) patch.vfio = vfioView(b, nb);
  if (b.config.kernel !== a.config.kernel) patch.kernel = b.config.kernel.release;
  return patch;
}

function contextPatch(was: Ctx, now: Ctx, names: ContextNames): ContextPatch {
  const objects: { [id: number]: ObjectView | null } = {};
  const pages: { [id: number]: PagesView | null } = {};
  now.objects.changesSince(was.objects, (id, _o, n) => {
    objects[id] = n === undefined ? null : objectView(n);
  });
  now.pages.changesSince(was.pages, (id, _o, n) => {
    pages[id] = n === undefined ? null : pagesView(n);
  });
  const changedHead = was.holders !== now.holders || was.accountMode !== now.accountMode || was.vfioIoas !== now.vfioIoas;
  return {
    ...(changedHead ? { head: head(now, names) } : {}),
    ...(Object.keys(objects).length > 0 ? { objects } : {}),
    ...(Object.keys(pages).length > 0 ? { pages } : {}),
  };
}
