/**
 * Copy-on-write of private mappings: which private pages a process shares with the processes
 * it forked or was forked from, and the copy it gets when the sharing breaks: on a write fault
 * (`do_wp_page()`), or on a long-term pin, which must keep pinning what the process maps
 * (`gup_must_unshare()`).
 */
import { type AnonRuns, putRun, runsWithin } from './anon-runs.ts';
import { revise } from '../model/revise.ts';
import type { AnonRun, CowBreak, Mapping, Process, Range, World } from '../model/world.ts';

/**
 * The copies process `pid` gets over `[start, last]` in the command of copy generation `gen`.
 * The copies one command makes for one process form one memory object indexed by page, so
 * that consecutive copies are consecutive pages; a later command's copies are other pages. A
 * copy is a small page even of a huge one: the huge page mapping is split first.
 */
export function ownCopy(gen: number, pid: number, start: bigint, last: bigint, pageSize: bigint): AnonRun {
  return { start, last, obj: `copy:${gen}:${pid}`, index: start / pageSize, compound: false, exclusive: true };
}

/** Pages `[start, last]` of a private mapping that are alike: those of run `own`, or the mapping's own where it is null. */
export interface Stretch extends Range {
  readonly own: AnonRun | null;
}

/** `[from, to]`, inside one private mapping of the process, as stretches, ascending. */
export function* stretches(process: Process, from: bigint, to: bigint, pageSize: bigint): Generator<Stretch> {
  let at = from;
  for (const own of runsWithin(process.anonPages, from, to, pageSize)) {
    if (own.start > at) yield { start: at, last: own.start - 1n, own: null };
    yield { start: own.start, last: own.last, own };
    at = own.last + 1n;
  }
  if (at <= to) yield { start: at, last: to, own: null };
}

/**
 * Whether the pages of a stretch of private mapping `m` are this process's alone
 * (`PageAnonExclusive()`), so that a write or a pin keeps them. A private file page never is:
 * it is the page cache's, whoever else maps the file.
 */
export const exclusive = (m: Mapping, s: Stretch): boolean => (s.own === null ? m.backing.kind === 'anon' && !m.cow : s.own.exclusive);

/**
 * The process's runs after a CPU write to `[from, to]` of private mapping `m`
 * (`do_wp_page()`): every page not its alone becomes its own copy, of copy generation `gen`.
 */
export function writePrivate(runs: AnonRuns, process: Process, m: Mapping, from: bigint, to: bigint, gen: number, pageSize: bigint): AnonRuns {
  let out = runs;
  for (const s of stretches(process, from, to, pageSize)) {
    if (!exclusive(m, s)) out = putRun(out, ownCopy(gen, process.pid, s.start, s.last, pageSize), pageSize);
  }
  return out;
}

/** Stores the copies the pins of a command made into their processes. */
export function storeCowBreaks(world: World, breaks: Iterable<CowBreak>): World {
  const { pageSize } = world.config;
  const updated = new Map<number, AnonRuns>();
  let gen = world.nextMemObject;
  for (const b of breaks) {
    const anonPages = updated.get(b.pid) ?? world.processes.get(b.pid)?.anonPages;
    if (anonPages === undefined) continue;
    updated.set(b.pid, putRun(anonPages, ownCopy(b.gen, b.pid, b.start, b.last, pageSize), pageSize));
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
