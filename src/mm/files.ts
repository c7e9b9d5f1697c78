/**
 * File descriptors and open files. An fd-table entry holds one reference on an open file
 * (FORK copies the entries, so both processes share the file); when the last reference goes
 * the file is released (file-release.ts), and an iommufd file releases its context (spec §1.5).
 */
import type { Choices } from '../model/command.ts';
import { revise } from '../model/revise.ts';
import type { OpenFile, Process, World } from '../model/world.ts';

export const withFds = (process: Process, fds: Process['fds']): Process =>
  revise(process, (d) => {
    d.fds = fds;
  });

/** The largest fd the model hands out (the default RLIMIT_NOFILE hard limit is far above any trace). */
const FD_MAX = 2 ** 31 - 1;

export function lowestFreeFd(process: Process): number {
  let expected = 0;
  for (const fd of process.fds.keys()) {
    if (fd !== expected) return expected;
    expected++;
  }
  return expected;
}

/** The fd a new file gets: the recorded one when it is legal (not open in that process), else the lowest free. */
export function chooseFd(process: Process, choices: Choices, field: string): number {
  const recorded = choices.proposed(field);
  if (typeof recorded === 'bigint') {
    if (recorded >= 0n && recorded <= BigInt(FD_MAX) && !process.fds.has(Number(recorded))) return Number(recorded);
    choices.reject(field, recorded, recorded >= 0n && recorded <= BigInt(FD_MAX) ? 'fd already open' : 'not a valid fd');
  }
  return lowestFreeFd(process);
}

export function fileOf(world: World, process: Process, fd: number): OpenFile | undefined {
  const id = process.fds.get(fd);
  return id === undefined ? undefined : world.files.get(id);
}

/** An open file before it gets its id and first reference. */
export type NewFile = OpenFile extends infer F ? (F extends OpenFile ? Omit<F, 'id' | 'refs'> : never) : never;

/** Opens a new file description as `fd` of `pid`. */
export function installFile(world: World, pid: number, fd: number, file: NewFile): World {
  const process = world.processes.get(pid);
  if (process === undefined) throw new Error(`[iommufd-model] no process ${pid}`);
  const id = world.nextFileId;
  const opened = { ...file, id, refs: 1 } as OpenFile;
  return revise(world, (d) => {
    d.nextFileId = id + 1;
    d.files = world.files.set(id, opened);
    d.processes = world.processes.set(pid, withFds(process, process.fds.set(fd, id)));
  });
}
