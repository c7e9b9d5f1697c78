/**
 * Copy-on-write of private mappings: which private pages a process shares with the processes
 * it forked or was forked from, and the copy it gets when the sharing breaks: on a write fault
 * (`do_wp_page()`), or on a long-term pin, which must keep pinning what the process maps
 * (`gup_must_unshare()`).
 */
import { revise } from '../model/revise.ts';
import type { AnonPage, CowBreak, Mapping, Process, World } from '../model/world.ts';

/**
 * The copy process `pid` gets at `va` in the command of copy generation `gen`. The copies one
 * command makes for one process form one memory object indexed by page, so that consecutive
 * copies are consecutive pages; a later command's copies are other pages. A copy is a small
 * page even of a huge one: the huge page mapping is split first.
 */
export function ownCopy(gen: number, pid: number, va: bigint, pageSize: bigint): AnonPage {
  return { obj: `copy:${gen}:${pid}`, index: va / pageSize, compound: false, exclusive: true };
}

/**
 * Whether the page at `va` of private mapping `m` is this process's alone
 * (`PageAnonExclusive()`), so that a write or a pin keeps it. A private file page never is: it
 * is the page cache's, whoever else maps the file.
 */
export function exclusiveAt(process: Process, m: Mapping, va: bigint): boolean {
  const own = process.anonPages.get(va);
  if (own !== undefined) return own.exclusive;
  return m.backing.kind === 'anon' && !m.cow;
}

/** Stores the copies the pins of a command made into their processes. */
export function storeCowBreaks(world: World, breaks: Iterable<CowBreak>): World {
  const { pageSize } = world.config;
  const updated = new Map<number, Process['anonPages']>();
  let gen = world.nextMemObject;
  for (const b of breaks) {
    let anonPages = updated.get(b.pid) ?? world.processes.get(b.pid)?.anonPages;
    if (anonPages === undefined) continue;
    for (let va = b.start; va <= b.last; va += pageSize) anonPages = anonPages.set(va, ownCopy(b.gen, b.pid, va, pageSize));
    updated.set(b.pid, anonPages);
    if (b.gen >= gen) gen = b.gen + 1;
  }
  let processes = world.processes;
  for (const [pid, anonPages] of updated) {
    const process = processes.get(pid);
    if (process !== undefined) processes = processes.set(pid, { ...process, anonPages });
  }
  return revise(world, (d) => {
    d.processes = processes;
    d.nextMemObject = gen;
  });
}
