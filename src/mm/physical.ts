/**
 * Which physical page backs a user address: what `get_user_pages()` would return. A physical
 * page is named by the memory object it belongs to (an anonymous mapping, a memfd, a named
 * file) and its page index there, so two mappings of one memfd share pages and two anonymous
 * mappings never do. Contents are not modelled, only identity.
 */
import { type Stretch, exclusive, ownCopy, stretches } from './cow.ts';
import { intersecting } from '../model/ranges.ts';
import type { CowBreak, Mapping, Process, World } from '../model/world.ts';

const PROT_READ = 1n;
const PROT_WRITE = 2n;

/** A run of consecutive physical pages: `count` pages from `index` of memory object `obj`. */
export interface PhysicalRun {
  readonly obj: string;
  readonly index: bigint;
  readonly count: bigint;
  /** Part of a compound (huge) page, which `TEST_MD_CHECK_REFS` skips. */
  readonly compound: boolean;
}

function objectOf(m: Mapping): string {
  switch (m.backing.kind) {
    case 'anon':
      return `anon:${m.backing.object}`;
    case 'memfd':
      return `memfd:${m.backing.file}`;
    case 'named':
      return `file:${m.backing.path}`;
  }
}

function isCompound(world: World, m: Mapping): boolean {
  if (m.hugepage) return true;
  if (m.backing.kind !== 'memfd') return false;
  const file = world.files.get(m.backing.file);
  return file?.kind === 'memfd' && file.hugetlb;
}

/** How far GUP got over a range: the runs of the pages it reached, and the first address it did not (the end when it reached it). */
export interface Reach {
  readonly runs: PhysicalRun[];
  readonly end: bigint;
}

/**
 * `get_user_pages()` for reading over `[start, start + pages * PAGE_SIZE)`, page by page as
 * the selftest checks do: the runs of the pages up to the first one that is not mapped or not
 * readable (EFAULT), if any.
 */
export function readablePages(world: World, process: Process, start: bigint, pages: bigint): Reach {
  return walk(world, process, start, pages, false, null);
}

/**
 * `get_user_pages_fast()` of one page for reading, as the selftest checks call it page after
 * page, read a run at a time. Reads come at ascending page addresses, each with the last page
 * the caller may go on to; each gives the page at its address and the ones after it in the
 * same run (`count` of them in all, up to that last one), or null when GUP fails there
 * (EFAULT). Each page is judged on its own: pages a read skipped over do not fail the next.
 */
export function pageReader(world: World, process: Process): (va: bigint, last: bigint) => PhysicalRun | null {
  const { pageSize } = world.config;
  let reach: Reach = { runs: [], end: 0n };
  let failed = false;
  let i = 0;
  let runStart = 0n;
  return (va, last) => {
    if (va > reach.end || (va === reach.end && !failed)) {
      const wanted = last + pageSize;
      reach = readablePages(world, process, va, (wanted - va) / pageSize);
      failed = reach.end < wanted;
      i = 0;
      runStart = va;
    }
    if (va >= reach.end) return null;
    let run = reach.runs[i] as PhysicalRun;
    while (va >= runStart + run.count * pageSize) {
      runStart += run.count * pageSize;
      run = reach.runs[++i] as PhysicalRun;
    }
    const skip = (va - runStart) / pageSize;
    return { ...run, index: run.index + skip, count: run.count - skip };
  };
}

/**
 * `pin_user_pages(FOLL_LONGTERM)`, as iommufd pins (`pfn_reader_user_pin()`): the runs pinned
 * and the copy-on-write it broke, or null when GUP fails with EFAULT. A private page the
 * process does not have to itself is never pinned as it is: with FOLL_WRITE GUP faults it for
 * writing, which copies it; without, `gup_must_unshare()` asks for an unsharing fault (an
 * anonymous page not exclusive, or a page-cache page of a private mapping), which copies it
 * too. Either way the pin holds what the process maps, and a later CPU write goes to it.
 */
export function pinUser(
  world: World,
  process: Process,
  start: bigint,
  pages: bigint,
  write: boolean,
): { runs: PhysicalRun[]; breaks: CowBreak[] } | null {
  const breaks: CowBreak[] = [];
  const reach = walk(world, process, start, pages, write, breaks);
  return reach.end === start + pages * world.config.pageSize ? { runs: reach.runs, breaks } : null;
}

/** The runs of a range, mapping by mapping, as far as GUP gets; `breaks` collects the copies a pin makes, null for a lookup. */
function walk(world: World, process: Process, start: bigint, pages: bigint, write: boolean, breaks: CowBreak[] | null): Reach {
  const { pageSize } = world.config;
  const anyMemory = world.config.memory === 'any';
  const last = start + pages * pageSize - 1n;
  const want = write ? PROT_WRITE : PROT_READ;
  const runs: PhysicalRun[] = [];
  if (pages === 0n) return { runs, end: start };
  let next = start;
  for (const m of intersecting(process.mm, start, last)) {
    if (m.start > next) {
      if (!anyMemory) return { runs, end: next };
      runs.push(anyRun(process, next, m.start - 1n, pageSize));
    }
    const from = m.start > next ? m.start : next;
    if ((m.prot & want) === 0n) return { runs, end: from };
    const to = m.last < last ? m.last : last;
    for (const r of mappingRuns(world, process, m, from, to, breaks)) runs.push(r);
    next = to + 1n;
  }
  if (next <= last) {
    if (!anyMemory) return { runs, end: next };
    runs.push(anyRun(process, next, last, pageSize));
  }
  return { runs, end: last + 1n };
}

/** The physical pages of a stretch of mapping `m`. */
export function stretchPages(world: World, m: Mapping, s: Stretch): PhysicalRun {
  const { pageSize } = world.config;
  const count = (s.last - s.start + 1n) / pageSize;
  if (s.own !== null) return { obj: s.own.obj, index: s.own.index, count, compound: s.own.compound };
  return { obj: objectOf(m), index: (m.backing.offset + (s.start - m.start)) / pageSize, count, compound: isCompound(world, m) };
}

/**
 * The physical runs of `[from, to]` inside mapping `m`: its memory object's pages, except the
 * private pages that are not simply the mapping's (`anonPages`). With `breaks`, every private
 * page the process does not have to itself becomes its own copy, recorded there.
 */
function mappingRuns(world: World, process: Process, m: Mapping, from: bigint, to: bigint, breaks: CowBreak[] | null): PhysicalRun[] {
  const { pageSize } = world.config;
  if (m.shared) return [stretchPages(world, m, { start: from, last: to, own: null })];
  const runs: PhysicalRun[] = [];
  const push = (r: PhysicalRun): void => {
    const prev = runs[runs.length - 1];
    if (prev !== undefined && prev.obj === r.obj && prev.compound === r.compound && prev.index + prev.count === r.index) {
      runs[runs.length - 1] = { ...prev, count: prev.count + r.count };
    } else {
      runs.push(r);
    }
  };
  for (const s of stretches(process, from, to, pageSize)) {
    if (breaks === null || exclusive(m, s)) {
      push(stretchPages(world, m, s));
      continue;
    }
    breaks.push({ pid: process.pid, start: s.start, last: s.last, gen: world.nextMemObject });
    push(stretchPages(world, m, { ...s, own: ownCopy(world.nextMemObject, process.pid, s.start, s.last, pageSize) }));
  }
  return runs;
}

/** With `memory: "any"`, unmapped user memory is anonymous memory of its own. */
function anyRun(process: Process, from: bigint, to: bigint, pageSize: bigint): PhysicalRun {
  return { obj: `any:${process.pid}`, index: from / pageSize, count: (to - from + 1n) / pageSize, compound: false };
}
