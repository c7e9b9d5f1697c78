/**
 * Contexts as a user names them. The model numbers contexts internally; a user knows them by the
 * file descriptor that opened them, so a context is named `PID:FD` after the lowest pid, then
 * its lowest fd, whose open file holds it (its /dev/iommu fd, or an access, fault or event
 * queue fd), and `#ID` when no process has such an fd left.
 */
import type { OpenFile, World } from '../../src/model/world.ts';

/** The context an open file holds, if it holds one. */
export function fileContext(file: OpenFile): number | null {
  return 'ctx' in file ? file.ctx : null;
}

export class ContextNames {
  private readonly names = new Map<number, string>();

  constructor(private readonly world: World) {
    for (const [pid, process] of world.processes) {
      for (const [fd, fileId] of process.fds) {
        const file = world.files.get(fileId);
        const ctx = file === undefined ? null : fileContext(file);
        if (ctx !== null && !this.names.has(ctx)) this.names.set(ctx, `${pid}:${fd}`);
      }
    }
  }

  name(ctx: number): string {
    return this.names.get(ctx) ?? `#${ctx}`;
  }

  /** Every context's name, in id order. */
  all(): string[] {
    return [...this.world.contexts.keys()].map((id) => this.name(id));
  }
}

/**
 * The context that `pid`'s fd `fd` holds (any fd of it, not only the one it is named after), or
 * the context `#id`; null when there is none.
 */
export function contextByRef(world: World, ref: { readonly pid: number; readonly fd: number } | { readonly id: number }): number | null {
  if ('id' in ref) return world.contexts.has(ref.id) ? ref.id : null;
  const fileId = world.processes.get(ref.pid)?.fds.get(ref.fd);
  const file = fileId === undefined ? undefined : world.files.get(fileId);
  const ctx = file === undefined ? null : fileContext(file);
  return ctx !== null && world.contexts.has(ctx) ? ctx : null;
}
