/**
 * The model's invariants, in one place for the audit, `replay --invariants`, the property
 * tests and the fuzzer. State invariants hold of every snapshot between commands (spec §5.6);
 * step invariants relate a command's before and after (atomicity, the memlock limit).
 */
import { pinnedOf } from './accounting.ts';
import { alignmentOf } from './hw-pagetable.ts';
import { areaHoldKey, areaIndexes } from './pages.ts';
import { firstIntersecting } from './ranges.ts';
import type { Ctx, Ioas, Pages, World } from './world.ts';

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

/** Ops whose failure may keep a partial effect, as the kernel's own does (spec §3.8, §3.15, §3.22). */
export const PARTIAL_EFFECT_OPS: ReadonlySet<string> = new Set(['IOAS_UNMAP', 'VFIO_IOMMU_UNMAP_DMA', 'HWPT_INVALIDATE']);

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function checkIoas(world: World, ctx: Ctx, ioas: Ioas, out: Violation[], areasOf: Map<number, number>): void {
  const { iopt } = ioas;
  const where = `ctx ${ctx.id} IOAS ${ioas.id}`;
  const mask = iopt.iovaAlignment - 1n;
  let prevLast = -1n;
  for (const area of iopt.areas.values()) {
    const at = `${where} area ${hex(area.start)}`;
    if (area.start <= prevLast) out.push({ invariant: 'areas-disjoint', detail: `${at} overlaps the area before it` });
    prevLast = area.last;
    const length = area.last - area.start + 1n;
    if ((area.start & mask) !== 0n || (length & mask) !== 0n || ((area.startByte % world.config.pageSize) & mask) !== 0n) {
      out.push({ invariant: 'areas-aligned', detail: `${at} breaks alignment ${hex(iopt.iovaAlignment)}` });
    }
    if (firstIntersecting(iopt.reservedSpans, area.start, area.last) !== undefined) {
      out.push({ invariant: 'areas-outside-reserved', detail: `${at} meets a reserved range` });
    }
    const pages = ctx.pages.get(area.pages);
    if (pages === undefined) {
      out.push({ invariant: 'no-dangling-references', detail: `${at} uses pages object ${area.pages}, which is gone` });
      continue;
    }
    areasOf.set(pages.id, (areasOf.get(pages.id) ?? 0) + 1);
    const held = pages.holds.some((h) => h.key === areaHoldKey(ioas.id, area));
    if (held !== ioas.domains.length > 0) {
      out.push({
        invariant: 'domains-hold-areas',
        detail: `${at} is ${held ? '' : 'not '}pinned for domains while the IOAS has ${ioas.domains.length}`,
      });
    }
  }
  for (const r of iopt.allowed.values()) {
    if (firstIntersecting(iopt.reservedSpans, r.start, r.last) !== undefined) {
      out.push({ invariant: 'allowed-outside-reserved', detail: `${where} allowed ${hex(r.start)}..${hex(r.last)} meets a reserved range` });
    }
  }
  const alignment = alignmentOf(world, ctx, ioas);
  if (alignment !== iopt.iovaAlignment) {
    out.push({ invariant: 'iova-alignment', detail: `${where} alignment ${hex(iopt.iovaAlignment)}, its domains and accesses ask ${hex(alignment)}` });
  }
  for (const id of ioas.domains) {
    const h = ctx.objects.get(id);
    if (h?.type !== 'hwpt_paging' || h.ioas !== ioas.id) {
      out.push({ invariant: 'no-dangling-references', detail: `${where} lists domain ${id}, which is not its HWPT` });
    }
  }
}

/** The union of a pages object's holds must be exactly what it has pinned. */
function checkPins(ctx: Ctx, pages: Pages, out: Violation[]): void {
  let held = 0n;
  const ranges = [...pages.holds].sort((a, b) => (a.first < b.first ? -1 : 1));
  let cur: { first: bigint; last: bigint } | null = null;
  for (const h of ranges) {
    if (cur !== null && h.first <= cur.last + 1n) {
      if (h.last > cur.last) cur.last = h.last;
      continue;
    }
    if (cur !== null) held += cur.last - cur.first + 1n;
    cur = { first: h.first, last: h.last };
  }
  if (cur !== null) held += cur.last - cur.first + 1n;
  const pinned = pinnedOf(pages);
  if (pinned !== held) {
    out.push({ invariant: 'pinned-is-held', detail: `ctx ${ctx.id} pages ${pages.id}: ${pinned} pinned, holds cover ${held}` });
  }
  if (pages.charged !== pinned) {
    out.push({ invariant: 'charged-is-pinned', detail: `ctx ${ctx.id} pages ${pages.id}: ${pinned} pinned, ${pages.charged} charged` });
  }
}

/** Every invariant of one snapshot. */
export function checkWorld(world: World): Violation[] {
  const out: Violation[] = [];
  const userSum = new Map<number, bigint>();
  const lockedSum = new Map<number, bigint>();
  const pinnedSum = new Map<number, bigint>();
  const add = (m: Map<number, bigint>, k: number, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);
  for (const ctx of world.contexts.values()) {
    const areasOf = new Map<number, number>();
    for (const obj of ctx.objects.values()) {
      if (obj.type === 'ioas') checkIoas(world, ctx, obj, out, areasOf);
      if (obj.type === 'hwpt_paging' && ctx.objects.get(obj.ioas)?.type !== 'ioas') {
        out.push({ invariant: 'no-dangling-references', detail: `ctx ${ctx.id} HWPT ${obj.id} refers to IOAS ${obj.ioas}, which is gone` });
      }
      if (obj.type === 'device') {
        for (const [pasid, h] of obj.attached) {
          if (ctx.objects.get(h) === undefined) {
            out.push({ invariant: 'no-dangling-references', detail: `ctx ${ctx.id} device ${obj.id} pasid ${pasid} attached to ${h}, which is gone` });
          }
        }
      }
    }
    for (const pages of ctx.pages.values()) {
      if (pages.areaRefs !== (areasOf.get(pages.id) ?? 0)) {
        out.push({ invariant: 'pages-refs', detail: `ctx ${ctx.id} pages ${pages.id}: ${pages.areaRefs} refs, ${areasOf.get(pages.id) ?? 0} areas` });
      }
      checkPins(ctx, pages, out);
      if (pages.account === 'user') add(userSum, pages.ownerUid, pages.charged);
      if (pages.account === 'mm') add(lockedSum, pages.owner, pages.charged);
      add(pinnedSum, pages.owner, pages.charged);
    }
  }
  for (const p of world.processes.values()) {
    if (p.lockedVm !== (lockedSum.get(p.pid) ?? 0n)) {
      out.push({ invariant: 'accounting-sums', detail: `pid ${p.pid} locked_vm ${p.lockedVm} pages, its MM pages objects hold ${lockedSum.get(p.pid) ?? 0n}` });
    }
    if (p.pinnedVm !== (pinnedSum.get(p.pid) ?? 0n)) {
      out.push({ invariant: 'accounting-sums', detail: `pid ${p.pid} pinned_vm ${p.pinnedVm} pages, its pages objects hold ${pinnedSum.get(p.pid) ?? 0n}` });
    }
  }
  for (const [uid, locked] of world.userLockedVm) {
    if (locked !== (userSum.get(uid) ?? 0n)) {
      out.push({ invariant: 'accounting-sums', detail: `uid ${uid} locked_vm ${locked} pages, its USER pages objects hold ${userSum.get(uid) ?? 0n}` });
    }
  }
  return out;
}

/** What a step must respect: a failure changes nothing (but the kernel's partial effects), no charge passes RLIMIT_MEMLOCK. */
export function checkStep(before: World, after: World, op: string, errno: string | null): Violation[] {
  const out: Violation[] = [];
  if (errno !== null && after !== before && !PARTIAL_EFFECT_OPS.has(op)) {
    out.push({ invariant: 'failure-is-atomic', detail: `${op} failed with ${errno} but changed the state` });
  }
  for (const p of after.processes.values()) {
    const was = before.processes.get(p.pid);
    if (was === undefined || p.lockedVm <= was.lockedVm || p.rlimitMemlock === null) continue;
    if (errno !== null) {
      out.push({ invariant: 'failure-charges-nothing', detail: `${op} failed with ${errno} but pid ${p.pid} locked_vm rose` });
    }
    if (p.lockedVm * after.config.pageSize > p.rlimitMemlock) {
      out.push({ invariant: 'charge-within-limit', detail: `pid ${p.pid} locked_vm ${p.lockedVm} pages passed RLIMIT_MEMLOCK ${p.rlimitMemlock} bytes` });
    }
  }
  for (const [uid, locked] of after.userLockedVm) {
    const was = before.userLockedVm.get(uid) ?? 0n;
    if (locked > was && errno !== null) {
      out.push({ invariant: 'failure-charges-nothing', detail: `${op} failed with ${errno} but uid ${uid} locked_vm rose` });
    }
  }
  return out;
}
