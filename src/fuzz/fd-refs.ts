/**
 * What a generated sequence names by what it opened, resolved against the state it runs in,
 * so that a sequence works on the container and group it opened whatever the run left open
 * before it (the default fd of a container op is the lowest, often another container's):
 * - `{"newest": "container"}` (an `fd`, or `fd` or `container_fd` in `args`): the issuing
 *   process's most recently opened container file of a container no driver but SPAPR TCE
 *   took (SPAPR_TCE_GET_INFO's number is type1's GET_INFO, whose answer the op's struct does
 *   not carry); `"back": 1` the one opened before it; `{"newest": "group"}` likewise its group
 *   files, `{"newest": "group", "group": 3}` group 3's;
 * - `{"free": [3, 4]}` (the `path` of an OPEN): the first of these VFIO groups no file holds open;
 * - `{"reclaim": [3, 4]}` (the `fd` of a CLOSE): when none of them is free, the issuing
 *   process's oldest file of one of them that no other process shares, so that closing it
 *   detaches the group from the container an earlier sequence left it in;
 * - `"child"` (an event's `pid`, or `pid` in the `args` of an EXIT): the last process a FORK made.
 * The trace written has the numbers and paths.
 */
import type { OpenFile, World } from '../model/world.ts';
import type { FuzzEvent } from './arbitraries.ts';

export type FdRef = { readonly newest: 'container' | 'group'; readonly group?: number; readonly back?: number } | { readonly reclaim: readonly number[] };

export interface FreeGroup {
  readonly free: readonly number[];
}

/** What a reference that names no open file becomes: a number no fd of the fuzz runs reaches (EBADF). */
const NO_FD = 999;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRef = (v: unknown): v is FdRef => isObject(v) && ('newest' in v || 'reclaim' in v);

const groupFile = (file: OpenFile | undefined, groups: readonly number[]): boolean => file?.kind === 'group' && groups.includes(file.group);
const isFree = (world: World, group: number): boolean => world.vfio.groups.get(group)?.opened === null;

/** The process's fds whose files `match` takes, newest first: files are numbered as they are opened. */
function fdsWhere(world: World, pid: number, match: (file: OpenFile | undefined) => boolean): { fd: number; file: OpenFile }[] {
  const found: { fd: number; file: OpenFile }[] = [];
  for (const [fd, id] of world.processes.get(pid)?.fds ?? []) {
    const file = world.files.get(id);
    if (file !== undefined && match(file)) found.push({ fd, file });
  }
  return found.sort((a, b) => b.file.id - a.file.id);
}

function fdOf(world: World, pid: number, ref: FdRef): number | undefined {
  if ('reclaim' in ref) {
    if (ref.reclaim.some((g) => isFree(world, g))) return undefined;
    return fdsWhere(world, pid, (f) => groupFile(f, ref.reclaim) && f?.refs === 1).at(-1)?.fd;
  }
  const match =
    ref.newest === 'container'
      ? (f: OpenFile | undefined) => f?.kind === 'container' && (world.vfio.containers.get(f.container)?.driver?.kind ?? 'spapr_tce') === 'spapr_tce'
      : (f: OpenFile | undefined) => f?.kind === 'group' && (ref.group === undefined || f.group === ref.group);
  return fdsWhere(world, pid, match)[ref.back ?? 0]?.fd;
}

/** `raw` with its references resolved; one that names nothing is an fd nothing has (EBADF). */
export function resolveFds(world: World, raw: FuzzEvent): FuzzEvent {
  const child = raw['pid'] === 'child';
  const pid = child ? world.lastPid : typeof raw['pid'] === 'number' ? raw['pid'] : world.firstPid;
  const args = raw['args'];
  const refs = isObject(args) ? Object.keys(args).filter((k) => isRef(args[k]) || (k === 'path' && isObject(args[k])) || (k === 'pid' && args[k] === 'child')) : [];
  if (!child && !isRef(raw['fd']) && refs.length === 0) return raw;
  const out: Record<string, unknown> = { ...raw, ...(child ? { pid } : {}) };
  if (isRef(raw['fd'])) out['fd'] = fdOf(world, pid, raw['fd']) ?? NO_FD;
  if (isObject(args) && refs.length > 0) {
    const resolved: Record<string, unknown> = { ...args };
    for (const k of refs) {
      const v = args[k];
      if (isRef(v)) {
        resolved[k] = fdOf(world, pid, v) ?? NO_FD;
      } else if (v === 'child') {
        resolved[k] = world.lastPid;
      } else {
        const groups = (v as FreeGroup).free;
        resolved[k] = `/dev/vfio/${groups.find((g) => isFree(world, g)) ?? groups[0]}`;
      }
    }
    out['args'] = resolved;
  }
  return out as FuzzEvent;
}
