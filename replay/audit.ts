/**
 * The pinned-memory audit: replays a trace and follows every accounting target over time —
 * each uid's locked_vm, each process's VmLck and VmPin, the pages each IOAS and each pages
 * object keeps pinned — with peaks, what is left charged once every fd is closed, the
 * invariants an event broke, and what VFIO type1 would have charged for the same workload.
 */
import type { TraceEvent } from '../events/types.ts';
import { pinnedOf } from '../src/iommufd/pages/pages.ts';
import type { Ctx, World } from '../src/model/world.ts';
import { type FileOptions, replayFile, type TraceReport } from './replay-file.ts';
import type { ViolationRecord } from './replayer.ts';

/** One accounting target's charge, in pages, after each sampled event. */
export interface AuditSeries {
  readonly target: string;
  readonly kind: 'uid' | 'locked_vm' | 'pinned_vm' | 'ioas' | 'type1';
  readonly values: number[];
  peak: number;
  peakLine: number;
}

export interface PagesRecord {
  readonly ctx: number;
  readonly id: number;
  readonly owner: number;
  readonly uid: number;
  readonly account: string;
  readonly kind: string;
  readonly start: string;
  readonly length: string;
  firstLine: number;
  lastLine: number;
  maxPinned: number;
  areas: number;
}

export interface AuditReport {
  readonly file: string;
  /** The header's `description`, when it has one. */
  readonly description: string;
  readonly pageSize: number;
  readonly replay: TraceReport;
  /** The trace line of each sample; sample i of every series is after that line's event. */
  readonly lines: number[];
  readonly ops: string[];
  readonly series: AuditSeries[];
  readonly pages: PagesRecord[];
  /** Targets still charged after the last event while no iommufd context is left: a leak. */
  readonly leaks: { target: string; pages: number }[];
  /** Still charged at the end of the trace, per target (contexts may still be open). */
  readonly remaining: { target: string; pages: number }[];
  readonly violations: readonly ViolationRecord[];
  /** Peak pages charged in total: by iommufd (pinned_vm) and by VFIO type1 for the same mappings. */
  readonly comparison: { iommufdPeak: number; type1Peak: number; iommufdFinal: number; type1Final: number };
}

/**
 * What VFIO type1 would charge each process (`vfio_pin_pages_remote()`, spec-history §A.5):
 * one container per IOAS, each pinning and charging every page of every mapping on its own —
 * so a copy or a second map of the same memory is charged again — while the container has an
 * IOMMU domain; without one only what in-kernel users pinned. CAP_IPC_LOCK mappings are free.
 */
export function type1Charges(world: World): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const add = (pid: number, n: bigint) => out.set(pid, (out.get(pid) ?? 0n) + n);
  const { pageSize } = world.config;
  for (const ctx of world.contexts.values()) {
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      if (obj.domains.length > 0) {
        for (const area of obj.iopt.areas.values()) {
          const pages = ctx.pages.get(area.pages);
          if (pages === undefined || pages.account === 'none') continue;
          add(pages.owner, (area.startByte + (area.last - area.start)) / pageSize - area.startByte / pageSize + 1n);
        }
      } else {
        for (const id of obj.accesses) chargeAccessPins(ctx, id, add);
      }
    }
  }
  return out;
}

function chargeAccessPins(ctx: Ctx, accessId: number, add: (pid: number, n: bigint) => void): void {
  const access = ctx.objects.get(accessId);
  if (access?.type !== 'access') return;
  for (const item of access.items.values()) {
    for (const h of item.holds) {
      const pages = ctx.pages.get(h.pages);
      const held = pages?.holds.find((x) => x.key === h.key);
      if (pages !== undefined && held !== undefined && pages.account !== 'none') add(pages.owner, held.last - held.first + 1n);
    }
  }
}

/** The value of every target in one snapshot. */
function measure(world: World): Map<string, { kind: AuditSeries['kind']; pages: bigint }> {
  const m = new Map<string, { kind: AuditSeries['kind']; pages: bigint }>();
  for (const [uid, pages] of world.userLockedVm) m.set(`uid ${uid} locked_vm`, { kind: 'uid', pages });
  for (const p of world.processes.values()) {
    m.set(`pid ${p.pid} VmLck`, { kind: 'locked_vm', pages: p.lockedVm });
    m.set(`pid ${p.pid} VmPin`, { kind: 'pinned_vm', pages: p.pinnedVm });
  }
  for (const ctx of world.contexts.values()) {
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      const pinned = new Set<number>();
      for (const area of obj.iopt.areas.values()) pinned.add(area.pages);
      let n = 0n;
      for (const id of pinned) {
        const pages = ctx.pages.get(id);
        if (pages !== undefined) n += pinnedOf(pages);
      }
      m.set(`ctx ${ctx.id} IOAS ${obj.id} pinned`, { kind: 'ioas', pages: n });
    }
  }
  for (const [pid, pages] of type1Charges(world)) m.set(`pid ${pid} type1 locked_vm`, { kind: 'type1', pages });
  return m;
}

const total = (m: Map<string, { kind: AuditSeries['kind']; pages: bigint }>, kind: AuditSeries['kind']): bigint => {
  let n = 0n;
  for (const v of m.values()) if (v.kind === kind) n += v.pages;
  return n;
};

/** Replays one trace with the invariants on and collects the audit. */
export async function auditFile(file: string, options: Omit<FileOptions, 'invariants'>): Promise<AuditReport> {
  const lines: number[] = [];
  const ops: string[] = [];
  const series = new Map<string, AuditSeries>();
  const pages = new Map<string, PagesRecord>();
  let pageSize = 4096;
  let description = '';
  let last = new Map<string, { kind: AuditSeries['kind']; pages: bigint }>();
  let iommufdPeak = 0n;
  let type1Peak = 0n;
  let finalWorld: World | null = null;

  const sample = (event: TraceEvent | null, world: World) => {
    const now = measure(world);
    const changed = event === null || now.size !== last.size || [...now].some(([k, v]) => last.get(k)?.pages !== v.pages);
    if (!changed) return;
    const index = lines.length;
    lines.push(event?.line ?? 1);
    ops.push(event?.op ?? 'start');
    for (const [target, v] of now) {
      let s = series.get(target);
      if (s === undefined) {
        s = { target, kind: v.kind, values: new Array<number>(index).fill(0), peak: 0, peakLine: 0 };
        series.set(target, s);
      }
      const value = Number(v.pages);
      s.values.push(value);
      if (value > s.peak) {
        s.peak = value;
        s.peakLine = event?.line ?? 1;
      }
    }
    for (const s of series.values()) if (s.values.length === index) s.values.push(0);
    const vmPin = total(now, 'pinned_vm');
    const type1 = total(now, 'type1');
    if (vmPin > iommufdPeak) iommufdPeak = vmPin;
    if (type1 > type1Peak) type1Peak = type1;
    last = now;
  };

  const trackPages = (event: TraceEvent, world: World) => {
    for (const ctx of world.contexts.values()) {
      for (const p of ctx.pages.values()) {
        const key = `${ctx.id}:${p.id}`;
        let r = pages.get(key);
        if (r === undefined) {
          r = {
            ctx: ctx.id,
            id: p.id,
            owner: p.owner,
            uid: p.ownerUid,
            account: p.account,
            kind: p.kind,
            start: `0x${p.start.toString(16)}`,
            length: `0x${p.length.toString(16)}`,
            firstLine: event.line,
            lastLine: event.line,
            maxPinned: 0,
            areas: 0,
          };
          pages.set(key, r);
        }
        r.lastLine = event.line;
        r.maxPinned = Math.max(r.maxPinned, Number(pinnedOf(p)));
        r.areas = Math.max(r.areas, p.areaRefs);
      }
    }
  };

  const replay = await replayFile(file, { ...options, invariants: true }, {
    start: (header, world) => {
      pageSize = Number(header.env.pageSize);
      const d = header.extra['description'];
      if (typeof d === 'string') description = d;
      sample(null, world);
    },
    event: (event, before, after) => {
      finalWorld = after;
      if (after === before) return;
      sample(event, after);
      trackPages(event, after);
    },
  });

  const end = finalWorld === null ? last : measure(finalWorld);
  const remaining = [...end]
    .filter(([, v]) => v.pages > 0n && v.kind !== 'type1')
    .map(([target, v]) => ({ target, pages: Number(v.pages) }));
  const closed = finalWorld === null || (finalWorld as World).contexts.size === 0;
  return {
    file,
    description,
    pageSize,
    replay,
    lines,
    ops,
    series: [...series.values()],
    pages: [...pages.values()],
    leaks: closed ? remaining : [],
    remaining,
    violations: replay.violations ?? [],
    comparison: {
      iommufdPeak: Number(iommufdPeak),
      type1Peak: Number(type1Peak),
      iommufdFinal: Number(total(end, 'pinned_vm')),
      type1Final: Number(total(end, 'type1')),
    },
  };
}
