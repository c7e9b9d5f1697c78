/**
 * Which physical page backs a user address: what `get_user_pages()` would return. A physical
 * page is named by the memory object it belongs to (an anonymous mapping, a memfd, a named
 * file) and its page index there, so two mappings of one memfd share pages and two anonymous
 * mappings never do. Contents are not modelled, only identity.
 */
import { intersecting } from './ranges.ts';
import type { Mapping, Process, World } from './world.ts';

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
 * `pin_user_pages()` over `[start, start + pages * PAGE_SIZE)`: the physical runs, or null
 * when a page is not mapped or not accessible as asked (GUP fails with EFAULT).
 */
export function pinUser(
  world: World,
  process: Process,
  start: bigint,
  pages: bigint,
  write: boolean,
): PhysicalRun[] | null {
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
    runs.push(...mappingRuns(world, process, m, from, to));
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
 * pages this process got its own copy of (copy-on-write broken), one run each.
 */
function mappingRuns(world: World, process: Process, m: Mapping, from: bigint, to: bigint): PhysicalRun[] {
  const { pageSize } = world.config;
  const obj = objectOf(m);
  const compound = isCompound(world, m);
  const runOf = (a: bigint, b: bigint): PhysicalRun => ({
    obj,
    index: (m.backing.offset + (a - m.start)) / pageSize,
    count: (b - a + 1n) / pageSize,
    compound,
  });
  if (process.copies.size === 0) return [runOf(from, to)];
  const runs: PhysicalRun[] = [];
  let at = from;
  for (const [va, copy] of process.copies.entriesFrom(from)) {
    if (va > to) break;
    if (va > at) runs.push(runOf(at, va - 1n));
    runs.push({ obj: copy, index: 0n, count: 1n, compound: false });
    at = va + pageSize;
  }
  if (at <= to) runs.push(runOf(at, to));
  return runs;
}

/** With `memory: "any"`, unmapped user memory is anonymous memory of its own. */
function anyRun(process: Process, from: bigint, to: bigint, pageSize: bigint): PhysicalRun {
  return { obj: `any:${process.pid}`, index: from / pageSize, count: (to - from + 1n) / pageSize, compound: false };
}

/** The physical page behind one user address, or null when GUP would fail. */
export function pageAt(world: World, process: Process, va: bigint): PhysicalRun | null {
  const { pageSize } = world.config;
  return pinUser(world, process, va - (va % pageSize), 1n, false)?.[0] ?? null;
}
