/**
 * Predicates over one replayed step (the state before, the event, the state after and the
 * result) that recognise the event which made a release crash or WARN: the triggers of the
 * release bugs in release-bugs.ts that have no effect user space sees. Each reads only what
 * the step changed, or the objects its event names, so a long trace pays little for it.
 */
import type { TraceEvent } from '../../events/types.ts';
import type { Result } from '../model/command.ts';
import { U64_MAX, intersecting } from '../model/ranges.ts';
import type { Ctx, Ioas, Pages, World } from '../model/world.ts';
import { fileOf } from '../mm/files.ts';
import { MOCK_FLAGS_ACCESS_SYZ, syzAccessIova } from '../iommufd/selftest/syz-iova.ts';

export interface BugStep {
  readonly before: World;
  readonly event: TraceEvent;
  readonly after: World;
  readonly result: Result;
}

const field = (event: TraceEvent, name: string): bigint => {
  const v = event.args?.fields[name];
  return typeof v === 'bigint' ? v : 0n;
};

/** User pages whose `uptr + length` runs past the end of the address space (`iopt_alloc_pages()` before e4395701330f). */
const wraps = (pages: Pages | undefined): boolean => pages?.kind === 'user' && pages.start + pages.length > U64_MAX;

/**
 * `pfn_reader_user_pin()` reaching pages that wrap: `pin_user_pages()` pins nothing there, and
 * the reader WARNs (pages.c, "WARNING in pfn_reader_user_pin"). A step that pins such pages
 * (a domain filled from them) shows it in their pin runs; a selftest access's ACCESS_RW reads
 * through them without keeping a pin, and its ACCESS_PAGES WARNs whether the pin then fails or
 * not, so the areas they name are looked at.
 */
export function readsWrappedPages({ before, event, after }: BugStep): boolean {
  let pinned = false;
  after.contexts.changesSince(before.contexts, (_, was, now) => {
    if (pinned || was === undefined || now === undefined) return;
    now.pages.changesSince(was.pages, (_id, p, n) => {
      if (!pinned && wraps(n) && n !== undefined && n.pins.length > 0 && n.pins !== p?.pins) pinned = true;
    });
  });
  return pinned || ((event.op === 'TEST_ACCESS_RW' || event.op === 'TEST_ACCESS_PAGES') && accessCrossesWrappedPages(before, event));
}

/** Whether a selftest access op names an area of pages that wrap: as `iommufd_access_rw()` and `_pin_pages()` find the areas. */
function accessCrossesWrappedPages(world: World, event: TraceEvent): boolean {
  const process = world.processes.get(event.pid ?? world.firstPid);
  const file = process === undefined ? undefined : fileOf(world, process, Number(field(event, 'id')));
  if (file?.kind !== 'access') return false;
  const ctx = world.contexts.get(file.ctx);
  const access = ctx?.objects.get(file.access);
  if (ctx === undefined || access?.type !== 'access' || access.ioas === null) return false;
  const ioas = ctx.objects.get(access.ioas);
  const length = field(event, 'length');
  if (ioas?.type !== 'ioas' || length === 0n) return false;
  const given = field(event, 'iova');
  const iova = (field(event, 'flags') & MOCK_FLAGS_ACCESS_SYZ) !== 0n ? syzAccessIova(ctx, access, given) : given;
  for (const area of intersecting(ioas.iopt.areas, iova, iova + length - 1n)) {
    if (wraps(ctx.pages.get(area.pages))) return true;
  }
  return false;
}

/** Whether an access of `ioas` holds pages of one of its areas (an item of `iommufd_access_pin_pages()`). */
function accessHolds(ctx: Ctx, ioas: Ioas): boolean {
  return ioas.accesses.some((id) => {
    const access = ctx.objects.get(id);
    return access?.type === 'access' && access.items.size > 0;
  });
}

/**
 * The last domain of an IOAS going while an access holds pages of its areas: the storage
 * domain is unfilled around the access's pins, and `__iopt_area_unfill_domain()` before
 * 727c28c1cef2 computed the batch's end from the wrong index, unpinning past it ("WARNING in
 * __iopt_area_unfill_domain", the num-pinned check).
 */
export function unfillsAroundAccess({ before, after }: BugStep): boolean {
  let found = false;
  after.contexts.changesSince(before.contexts, (_, was, now) => {
    if (found || was === undefined) return;
    const objects = now?.objects;
    if (objects === undefined) return;
    objects.changesSince(was.objects, (_id, old, cur) => {
      if (found || old?.type !== 'ioas' || old.domains.length === 0) return;
      if (cur?.type === 'ioas' && cur.domains.length > 0) return;
      found = accessHolds(was, old);
    });
  });
  return found;
}

/**
 * A selftest TEST_MD_CHECK_MAP or TEST_MD_CHECK_REFS whose `uptr + length` wraps: before
 * fd8c1a4aee97 `iommufd_test_md_check_refs()` and `_check_map()` walked the user range page
 * by page past the end of the address space, and `get_user_pages_fast()` pinning nothing hit
 * their WARN_ON ("WARNING in iommufd_test").
 */
export function checksWrappedRange({ event }: BugStep): boolean {
  if (event.op !== 'TEST_MD_CHECK_MAP' && event.op !== 'TEST_MD_CHECK_REFS') return false;
  const length = field(event, 'length');
  return length > 0n && field(event, 'uptr') + length > U64_MAX;
}

/**
 * A selftest access moved to another IOAS whose areas break the alignment the access needs:
 * `iopt_add_access()` had stored the new list id in the access before
 * `iopt_calculate_iova_alignment()` refused it, so the access, left on its IOAS, carried an id
 * that was erased. Before aeb004c0cd69 the access leaving that IOAS later (its fd closed,
 * another replace) WARNed in `iopt_remove_access()`: the event that set it off is this one.
 */
export function replaceFailsAlignment({ event, result }: BugStep): boolean {
  return event.op === 'TEST_ACCESS_REPLACE_IOAS' && result.errno !== null && result.check?.includes('iopt_check_iova_alignment') === true;
}
