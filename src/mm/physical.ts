/**
 * Which physical page backs a user address: what `get_user_pages()` would return. A physical
 * page is named by the memory object it belongs to (an anonymous mapping, a memfd, a named
 * file) and its page index there, so two mappings of one memfd share pages and two anonymous
 * mappings never do. Contents are not modelled, only identity.
 */
import { exclusiveAt, ownCopy } from './cow.ts';
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

/**
 * `get_user_pages()` over `[start, start + pages * PAGE_SIZE)`: the physical runs the process
 * maps there now, or null when a page is not mapped or not accessible as asked (EFAULT).
 */
export function userPages(world: World, process: Process, start: bigint, pages: bigint, write: boolean): PhysicalRun[] | null {
  return walk(world, process, start, pages, write, null);
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
  const runs = walk(world, process, start, pages, write, breaks);
  return runs === null ? null : { runs, breaks };
}

/** The runs of a range, mapping by mapping; `breaks` collects the copies a pin makes, null for a lookup. */
function walk(world: World, process: Process, start: bigint, pages: bigint, write: boolean, breaks: CowBreak[] | null): PhysicalRun[] | null {
  const { pageSize } = world.config;
  const anyMemory = world.config.memory === 'any';
  const last = start + pages * pageSize - 1n;
  const want = write ? PROT_WRITE : PROT_READ;
  const runs: PhysicalRun[] = [];
  let next = start;
  for (const m of intersecting(process.mm, start, last)) {
    if (m.start > next) {
      if (!anyMemory) return null;
      runs.push(anyRun(process, next, m.start - 1n, pageSize));
    }
    if ((m.prot & want) === 0n) return null;
    const from = m.start > next ? m.start : next;
    const to = m.last < last ? m.last : last;
    runs.push(...mappingRuns(world, process, m, from, to, breaks));
    next = to + 1n;
  }
  if (next <= last) {
    if (!anyMemory) return null;
    runs.push(anyRun(process, next, last, pageSize));
  }
  return runs;
}

/**
 * The physical runs of `[from, to]` inside mapping `m`: its memory object's pages, except the
 * private pages that are not simply the mapping's (`anonPages`). With `breaks`, every private
 * page the process does not have to itself becomes its own copy, recorded there.
 */
function mappingRuns(world: World, process: Process, m: Mapping, from: bigint, to: bigint, breaks: CowBreak[] | null): PhysicalRun[] {
  const { pageSize } = world.config;
  const obj = objectOf(m);
  const compound = isCompound(world, m);
  const runs: PhysicalRun[] = [];
  const push = (r: PhysicalRun): void => {
    const prev = runs[runs.length - 1];
    if (prev !== undefined && prev.obj === r.obj && prev.compound === r.compound && prev.index + prev.count === r.index) {
      runs[runs.length - 1] = { ...prev, count: prev.count + r.count };
    } else {
      runs.push(r);
    }
  };
  const copy = (a: bigint, b: bigint): void => {
    breaks?.push({ pid: process.pid, start: a, last: b, gen: world.nextMemObject });
    const first = ownCopy(world.nextMemObject, process.pid, a, pageSize);
    push({ obj: first.obj, index: first.index, count: (b - a + 1n) / pageSize, compound: first.compound });
  };
  // A stretch without anonPages entries: the mapping's own pages, all as exclusive as the first.
  const fromMapping = (a: bigint, b: bigint): void => {
    if (breaks !== null && !m.shared && !exclusiveAt(process, m, a)) copy(a, b);
    else push({ obj, index: (m.backing.offset + (a - m.start)) / pageSize, count: (b - a + 1n) / pageSize, compound });
  };
  if (m.shared || process.anonPages.size === 0) {
    fromMapping(from, to);
    return runs;
  }
  let at = from;
  for (const [va, page] of process.anonPages.entriesFrom(from)) {
    if (va > to) break;
    if (va > at) fromMapping(at, va - 1n);
    if (breaks !== null && !page.exclusive) copy(va, va + pageSize - 1n);
    else push({ obj: page.obj, index: page.index, count: 1n, compound: page.compound });
    at = va + pageSize;
  }
  if (at <= to) fromMapping(at, to);
  return runs;
}

/** With `memory: "any"`, unmapped user memory is anonymous memory of its own. */
function anyRun(process: Process, from: bigint, to: bigint, pageSize: bigint): PhysicalRun {
  return { obj: `any:${process.pid}`, index: from / pageSize, count: (to - from + 1n) / pageSize, compound: false };
}

/** The page at `va` of mapping `m`, whatever the mapping's protection. */
export function pageIn(world: World, process: Process, m: Mapping, va: bigint): PhysicalRun {
  const [page] = mappingRuns(world, process, m, va, va + world.config.pageSize - 1n, null);
  if (page === undefined) throw new Error(`[iommufd-model] no page at ${va.toString(16)}`);
  return page;
}

/** The physical page behind one user address, or null when GUP would fail. */
export function pageAt(world: World, process: Process, va: bigint): PhysicalRun | null {
  const { pageSize } = world.config;
  return userPages(world, process, va - (va % pageSize), 1n, false)?.[0] ?? null;
}
