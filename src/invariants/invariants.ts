/**
 * The model's invariants, in one place for the audit, `replay --invariants`, the property
 * tests and the fuzzer. State invariants hold of every snapshot between commands (spec §5.6);
 * step invariants relate a command's before and after (atomicity, the memlock limit).
 */
import { alignmentOf } from '../iommufd/hw-pagetable/hw-pagetable.ts';
import { areaHoldKey, areaIndexes, pinnedOf } from '../iommufd/pages/pages.ts';
import type { TraceEvent } from '../../events/types.ts';
import type { Result } from '../model/command.ts';
import { firstIntersecting, spansOf } from '../model/ranges.ts';
import type { Ctx, Ioas, Pages, World } from '../model/world.ts';

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

/**
 * Ops whose failure may keep a partial effect, as the kernel's own does (spec §3.8, §3.15,
 * §3.22), or a driver's: the mock clears its PASID 1024 latch as it fails a set (spec §7.3).
 */
export const PARTIAL_EFFECT_OPS: ReadonlySet<string> = new Set([
  'IOAS_UNMAP',
  'VFIO_IOMMU_UNMAP_DMA',
  'HWPT_INVALIDATE',
  'TEST_PASID_ATTACH',
  'TEST_PASID_REPLACE',
  'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
]);

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
    if ((area.prot & 2) !== 0 && !pages.writable) {
      out.push({ invariant: 'area-permissions', detail: `${at} is writeable over read-only pages ${pages.id}` });
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
  if (new Set(ioas.domains).size !== ioas.domains.length) {
    out.push({ invariant: 'domains-unique', detail: `${where} lists a domain twice: ${ioas.domains.join(',')}` });
  }
  for (const id of ioas.domains) {
    const h = ctx.objects.get(id);
    if (h?.type !== 'hwpt_paging' || h.ioas !== ioas.id) {
      out.push({ invariant: 'no-dangling-references', detail: `${where} lists domain ${id}, which is not its HWPT` });
      continue;
    }
    const { aperture } = h.domain;
    for (const area of iopt.areas.values()) {
      if (area.start < aperture.start || area.last > aperture.last) {
        out.push({ invariant: 'areas-inside-apertures', detail: `${where} area ${hex(area.start)} lies outside the aperture of HWPT ${id}` });
      }
    }
  }
  for (const id of ioas.accesses) {
    const access = ctx.objects.get(id);
    if (access?.type !== 'access') {
      out.push({ invariant: 'no-dangling-references', detail: `${where} lists access ${id}, which is gone` });
      continue;
    }
    for (const item of access.items.values()) {
      for (const h of item.holds) {
        const area = iopt.areas.get(h.area);
        const hold = ctx.pages.get(h.pages)?.holds.find((x) => x.key === h.key);
        if (area === undefined || area.pages !== h.pages) {
          out.push({ invariant: 'holds-have-areas', detail: `${where} access ${id} item ${item.id} holds through area ${hex(h.area)}, which is gone` });
        } else if (hold !== undefined) {
          const range = areaIndexes(area, world.config.pageSize);
          if (hold.first < range.first || hold.last > range.last) {
            out.push({ invariant: 'holds-within-area', detail: `${where} access ${id} item ${item.id} pins pages ${hold.first}..${hold.last} of an area spanning ${range.first}..${range.last}` });
          }
        }
      }
    }
  }
}

/**
 * A paging HWPT's users: the object table, one per device attachment (spec §1.3) and, for a
 * manual HWPT, its nested children, vIOMMUs and faults besides. An automatic HWPT has only
 * attachments, and goes with its last one.
 */
function checkHwptUsers(ctx: Ctx, id: number, auto: boolean, users: number, out: Violation[]): void {
  let attachments = 0;
  for (const obj of ctx.objects.values()) {
    if (obj.type !== 'device') continue;
    for (const h of obj.attached.values()) if (h === id) attachments++;
  }
  if (auto && attachments === 0) {
    out.push({ invariant: 'auto-hwpt-attached', detail: `ctx ${ctx.id} automatic HWPT ${id} outlived its last attachment` });
  }
  if (auto ? users !== 1 + attachments : users < 1 + attachments) {
    out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} HWPT ${id} has ${users} users for ${attachments} attachments` });
  }
}

/** An IOAS's users: the table, each paging HWPT on it and each access attached to it (spec §1.3). */
function checkIoasUsers(ctx: Ctx, ioas: Ioas, out: Violation[]): void {
  let holders = 1;
  for (const obj of ctx.objects.values()) {
    if ((obj.type === 'hwpt_paging' || obj.type === 'access') && obj.ioas === ioas.id) holders++;
  }
  if (ioas.lifecycle.context.users !== holders) {
    out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} IOAS ${ioas.id} has ${ioas.lifecycle.context.users} users, its holders make ${holders}` });
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
      if (obj.type === 'hwpt_paging') checkHwptUsers(ctx, obj.id, obj.auto, obj.lifecycle.context.users, out);
      if (obj.type === 'ioas') checkIoasUsers(ctx, obj, out);
      if (obj.type === 'device') {
        // The table, the binding driver, one per attachment, and a VDEVICE's hold.
        const expected = 2 + obj.attached.size + (obj.vdevice === null ? 0 : 1);
        if (obj.lifecycle.context.users !== expected) {
          out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} device ${obj.id} has ${obj.lifecycle.context.users} users, its holders make ${expected}` });
        }
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
      if (pages.start + pages.length > (1n << 64n)) {
        out.push({ invariant: 'pages-in-range', detail: `ctx ${ctx.id} pages ${pages.id} runs past the end of the address space` });
      }
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

/** Automatic IOVAs land inside the allowed ranges, when the IOAS has any (`iopt_alloc_iova()`). */
function checkAutoIova(before: World, after: World, event: TraceEvent, result: Result, out: Violation[]): void {
  const field = event.op === 'IOAS_COPY' ? 'dst_iova' : 'iova';
  const idField = event.op === 'IOAS_COPY' ? 'dst_ioas_id' : 'ioas_id';
  const args = event.args?.fields ?? {};
  const iova = result.out[field];
  if (typeof iova !== 'bigint' || ((args['flags'] as bigint | undefined) ?? 0n) & 1n) return;
  const id = Number(args[idField] ?? 0n);
  for (const [ctxId, ctx] of after.contexts) {
    const now = ctx.objects.get(id);
    const was = before.contexts.get(ctxId)?.objects.get(id);
    if (now?.type !== 'ioas' || was?.type !== 'ioas' || !now.iopt.areas.has(iova) || was.iopt.areas.has(iova)) continue;
    if (was.iopt.allowed.size === 0) return;
    const length = (args['length'] as bigint | undefined) ?? 0n;
    const inside = [...spansOf(was.iopt.allowed.values()).values()].some((r) => r.start <= iova && iova + length - 1n <= r.last);
    if (!inside) out.push({ invariant: 'auto-iova-allowed', detail: `ctx ${ctxId} IOAS ${id}: automatic IOVA ${hex(iova)} is outside the allowed ranges` });
    return;
  }
}

/** What a step must respect: a failure changes nothing (but the kernel's partial effects), no charge passes RLIMIT_MEMLOCK. */
export function checkStep(before: World, after: World, event: TraceEvent, result: Result): Violation[] {
  const out: Violation[] = [];
  const { op } = event;
  const { errno } = result;
  if (errno === null && (op === 'IOAS_MAP' || op === 'IOAS_MAP_FILE' || op === 'IOAS_COPY')) checkAutoIova(before, after, event, result, out);
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
