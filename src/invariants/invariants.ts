/**
 * The model's invariants, in one place for the audit, `replay --invariants`, the property
 * tests and the fuzzer. State invariants hold of every snapshot between commands (spec §5.6);
 * step invariants relate a command's before and after (atomicity, the memlock limit).
 * `checkWorld` checks a whole snapshot; incremental.ts checks only what a snapshot changed.
 * Both take each state invariant, one subject at a time, from state-checks.ts (VFIO's from
 * vfio-checks.ts).
 */
import type { TraceEvent } from '../../events/types.ts';
import type { Result } from '../model/command.ts';
import type { OrderedMap } from '../model/ordered-map.ts';
import { spansOf } from '../model/ranges.ts';
import type { Area, Ctx, Ioas, World } from '../model/world.ts';
import {
  type Charges,
  type Violation,
  accessOf,
  addCharges,
  addContainerCharges,
  addSpaprMmCharges,
  checkAccessItem,
  checkAccessListed,
  checkAllowed,
  checkAperture,
  checkArea,
  checkDevice,
  checkDomainListed,
  checkHwpt,
  checkIoasConfig,
  checkIoasUsers,
  checkPages,
  checkProcess,
  checkUser,
  domainOf,
  hex,
  violationKey,
} from './state-checks.ts';
import { spaprKeptOnFailure } from './spapr-failures.ts';
import { checkType1Unmap, checkVfio } from './vfio-checks.ts';

export type { Violation };
export { type Quirk, stepQuirks } from './quirks.ts';

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

/** Checks snapshot after snapshot, reporting each violation once: in the first snapshot it stands in. */
export interface InvariantTracker {
  /** The violations of `world` that did not stand in the last snapshot checked. */
  check(world: World): Violation[];
  /** Whether the last snapshot checked broke some invariant. */
  readonly hasStanding: boolean;
}

/** Checks the whole of every snapshot: the oracle the incremental tracker is held to. */
export class FullInvariantTracker implements InvariantTracker {
  private standing = new Set<string>();

  get hasStanding(): boolean {
    return this.standing.size > 0;
  }

  check(world: World): Violation[] {
    const now = checkWorld(world);
    const found = now.filter((v) => !this.standing.has(violationKey(v)));
    this.standing = new Set(now.map(violationKey));
    return found;
  }
}

/** Every invariant of one snapshot, subject by subject, the counts and sums found by scanning it all. */
export function checkWorld(world: World): Violation[] {
  const out: Violation[] = [];
  const sums: Charges = { user: new Map(), locked: new Map(), pinned: new Map() };
  for (const ctx of world.contexts.values()) {
    const areasOf = new Map<number, number>();
    const attachments = new Map<number, number>();
    const holders = new Map<number, number>();
    for (const obj of ctx.objects.values()) {
      if (obj.type === 'device') for (const h of obj.attached.values()) attachments.set(h, (attachments.get(h) ?? 0) + 1);
      if (obj.type === 'hwpt_paging' || obj.type === 'access') {
        if (obj.ioas !== null) holders.set(obj.ioas, (holders.get(obj.ioas) ?? 0) + 1);
      }
    }
    for (const obj of ctx.objects.values()) {
      if (obj.type === 'ioas') {
        checkIoas(world, ctx, obj, out);
        for (const area of obj.iopt.areas.values()) areasOf.set(area.pages, (areasOf.get(area.pages) ?? 0) + 1);
        checkIoasUsers(ctx, obj, 1 + (holders.get(obj.id) ?? 0), out);
      }
      if (obj.type === 'hwpt_paging') checkHwpt(ctx, obj, attachments.get(obj.id) ?? 0, out);
      if (obj.type === 'device') checkDevice(ctx, obj, out);
    }
    for (const pages of ctx.pages.values()) {
      checkPages(ctx, pages, areasOf.get(pages.id) ?? 0, out);
      addCharges(sums, pages, 1n);
    }
  }
  for (const container of world.vfio.containers.values()) addContainerCharges(sums, container, 1n);
  for (const [pid, mm] of world.vfio.spaprMms) addSpaprMmCharges(sums, pid, mm, 1n);
  for (const p of world.processes.values()) checkProcess(p, sums, out);
  for (const [uid, locked] of world.userLockedVm) checkUser(uid, locked, sums, out);
  checkVfio(world, out);
  return out;
}

function checkIoas(world: World, ctx: Ctx, ioas: Ioas, out: Violation[]): void {
  let before: Area | undefined;
  for (const area of ioas.iopt.areas.values()) {
    checkArea(world, ctx, ioas, area, before, out);
    before = area;
  }
  for (const r of ioas.iopt.allowed.values()) checkAllowed(ctx, ioas, r, out);
  checkIoasConfig(world, ctx, ioas, out);
  for (const id of ioas.domains) {
    checkDomainListed(ctx, ioas, id, out);
    const hwpt = domainOf(ctx, ioas, id);
    if (hwpt !== undefined) for (const area of ioas.iopt.areas.values()) checkAperture(ctx, ioas, hwpt, area, out);
  }
  for (const id of ioas.accesses) {
    checkAccessListed(ctx, ioas, id, out);
    const access = accessOf(ctx, id);
    if (access !== undefined) for (const item of access.items.values()) checkAccessItem(world, ctx, ioas, id, item, out);
  }
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

/**
 * What a step must respect: a failure changes nothing (but the kernel's partial effects), no
 * charge passes RLIMIT_MEMLOCK, a type1 unmap removes what the kernel's would.
 */
export function checkStep(before: World, after: World, event: TraceEvent, result: Result): Violation[] {
  const out: Violation[] = [];
  const { op } = event;
  const { errno } = result;
  if (errno === null && (op === 'IOAS_MAP' || op === 'IOAS_MAP_FILE' || op === 'IOAS_COPY')) checkAutoIova(before, after, event, result, out);
  checkType1Unmap(before, after, event, result, out);
  const kept = errno !== null && after !== before && spaprKeptOnFailure(before, after, event);
  if (errno !== null && after !== before && !PARTIAL_EFFECT_OPS.has(op) && !kept) {
    out.push({ invariant: 'failure-is-atomic', detail: `${op} failed with ${errno} but changed the state` });
  }
  for (const pid of changedKeys(after.processes, before.processes)) {
    const p = after.processes.get(pid);
    const was = before.processes.get(pid);
    if (p === undefined || was === undefined || p.lockedVm <= was.lockedVm || p.rlimitMemlock === null) continue;
    // A holder of CAP_IPC_LOCK may pass its limit: type1 charges its own mappings to it anyway
    // (`__account_locked_vm()` with the limit bypassed).
    if (p.pid === (event.pid ?? before.firstPid) && p.caps.includes('CAP_IPC_LOCK')) continue;
    if (errno !== null && !kept) {
      out.push({ invariant: 'failure-charges-nothing', detail: `${op} failed with ${errno} but pid ${p.pid} locked_vm rose` });
    }
    if (p.lockedVm * after.config.pageSize > p.rlimitMemlock) {
      out.push({ invariant: 'charge-within-limit', detail: `pid ${p.pid} locked_vm ${p.lockedVm} pages passed RLIMIT_MEMLOCK ${p.rlimitMemlock} bytes` });
    }
  }
  for (const uid of changedKeys(after.userLockedVm, before.userLockedVm)) {
    const locked = after.userLockedVm.get(uid);
    const was = before.userLockedVm.get(uid) ?? 0n;
    if (locked !== undefined && locked > was && errno !== null) {
      out.push({ invariant: 'failure-charges-nothing', detail: `${op} failed with ${errno} but uid ${uid} locked_vm rose` });
    }
  }
  return out;
}

/** The keys whose entries differ between two versions of a map, ascending. */
function changedKeys<V>(after: OrderedMap<number, V>, before: OrderedMap<number, V>): number[] {
  const keys: number[] = [];
  after.changesSince(before, (k) => keys.push(k));
  return keys;
}
