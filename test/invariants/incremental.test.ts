/**
 * `replay --invariants` checks only what each event changed; `--invariants-full` checks the
 * whole snapshot. Both run side by side, event by event, over the conformance corpus, the
 * mutants' counterexamples, the corpus and scenarios with bugs on, and a campaign of random
 * runs with random bugs on: they must report the same violations, in the same order, at the
 * same events, and agree on whether one still stands. Snapshots changed by hand, as no
 * command would change them, reach the references between records that the model's commands
 * (even with their bugs on) always change together.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import type { TraceEvent, TraceHeader } from '../../events/types.ts';
import type { Access, AccessItem, Area, Ctx, IommuObject, Ioas, Pages, World } from '../../src/model/world.ts';
import { FUZZ_HEADER, type FuzzEvent, PROLOGUE, stepArbitrary } from '../../src/fuzz/arbitraries.ts';
import { resolveFds } from '../../src/fuzz/fd-refs.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { IncrementalInvariantTracker, areaOfHoldKey } from '../../src/invariants/incremental.ts';
import { FullInvariantTracker, type InvariantTracker, checkWorld } from '../../src/invariants/invariants.ts';
import { areaHoldKey } from '../../src/iommufd/pages/pages.ts';
import { step } from '../../src/model/dispatch.ts';
import { BUG_NAMES, type BugName } from '../../src/model/mutants.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { CONFORMANCE_DIR, conformanceTraces } from '../conformance/corpus.ts';
import { propertySettings } from '../fc-settings.ts';

const SCENARIOS = resolve(import.meta.dirname, '../replay/scenarios');
const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const jsonl = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(dir, f));

interface Compared {
  readonly events: number;
  readonly violations: number;
}

/**
 * Steps the model through the events and checks each snapshot with both trackers, as the
 * replayer does (after an event that changed the state, or while a violation stands); fails
 * at the first event where their reports differ. Returns how many events and violations were
 * compared.
 */
function sideBySide(name: string, header: TraceHeader, events: Iterable<TraceEvent>, bugs: ReadonlySet<BugName>, adopt = true): Compared {
  const trackers: InvariantTracker[] = [new IncrementalInvariantTracker(), new FullInvariantTracker()];
  let world = createWorld(header, { bugs });
  let n = 0;
  let violations = 0;
  for (const event of events) {
    const before = world;
    let stepped: ReturnType<typeof step>;
    try {
      stepped = step(before, event, { adopt });
    } catch (e: unknown) {
      // A bug switched on can break what the model itself relies on: the run ends there.
      if (bugs.size > 0) break;
      throw e;
    }
    world = stepped.world;
    n++;
    if (stepped.result === null) continue;
    const [incremental, full] = trackers.map((t) => (world !== before || t.hasStanding ? t.check(world) : []));
    const at = `${name} with bugs [${[...bugs].join(',')}], line ${event.line} ${event.op}`;
    expect(incremental, at).toEqual(full);
    expect(trackers[0]?.hasStanding, at).toBe(trackers[1]?.hasStanding);
    violations += full?.length ?? 0;
  }
  return { events: n, violations };
}

function sideBySideFile(file: string, bugs: ReadonlySet<BugName>, adopt = true): Compared {
  const trace = parseTraceText(readFileSync(file, 'utf8'), file);
  return sideBySide(file.split('/').pop() as string, trace.header, trace.events, bugs, adopt);
}

/** Generated events made concrete as the faithful model meets them: their fd references resolved (src/fuzz/fd-refs.ts). */
function concreteRun(header: TraceHeader, raw: readonly FuzzEvent[]): TraceEvent[] {
  let world = createWorld(header);
  return raw.map((e, i) => {
    const event = parseEvent(resolveFds(world, e), i + 2);
    world = step(world, event, { adopt: false }).world;
    return event;
  });
}

function total(results: readonly Compared[]): Compared {
  return results.reduce((a, b) => ({ events: a.events + b.events, violations: a.violations + b.violations }), { events: 0, violations: 0 });
}

/** Random picks for a corruption: each call takes the next number, modulo `n`. */
type Pick = (n: number) => number;

const setObject = (w: World, ctx: Ctx, obj: IommuObject): World => ({ ...w, contexts: w.contexts.set(ctx.id, { ...ctx, objects: ctx.objects.set(obj.id, obj) }) });
const setPages = (w: World, ctx: Ctx, pages: Pages): World => ({ ...w, contexts: w.contexts.set(ctx.id, { ...ctx, pages: ctx.pages.set(pages.id, pages) }) });
const withUsers = <T extends { readonly lifecycle: { readonly value: unknown; readonly context: { readonly users: number } } }>(o: T, users: number): T => ({
  ...o,
  lifecycle: { ...o.lifecycle, context: { ...o.lifecycle.context, users } },
});
const pickOf = <T>(items: readonly T[], pick: Pick): T | undefined => (items.length === 0 ? undefined : items[pick(items.length)]);

/**
 * Changes one record of a snapshot as no command would, to reach states the model's own
 * commands (even with their bugs on) never make: the incremental check must still find what
 * the change broke, or mended, from the change alone.
 */
const CORRUPTIONS: Readonly<Record<string, (w: World, ctx: Ctx, pick: Pick) => World | undefined>> = {
  'drop an object': (w, ctx, pick) => {
    const id = pickOf([...ctx.objects.keys()], pick);
    return id === undefined ? undefined : { ...w, contexts: w.contexts.set(ctx.id, { ...ctx, objects: ctx.objects.delete(id) }) };
  },
  'miscount users': (w, ctx, pick) => {
    const obj = pickOf([...ctx.objects.values()].filter((o) => o.type !== 'tombstone'), pick);
    return obj === undefined || !('lifecycle' in obj) ? undefined : setObject(w, ctx, withUsers(obj, obj.lifecycle.context.users + 1) as IommuObject);
  },
  'move an aperture, or the IOAS of a domain': (w, ctx, pick) => {
    const h = pickOf([...ctx.objects.values()].filter((o) => o.type === 'hwpt_paging'), pick);
    if (h?.type !== 'hwpt_paging') return undefined;
    if (pick(2) === 0) return setObject(w, ctx, { ...h, ioas: pickOf([...ctx.objects.keys()], pick) ?? 99 });
    return setObject(w, ctx, { ...h, domain: { ...h.domain, aperture: { start: 0x1000000n + BigInt(pick(4)) * 0x1000n, last: 0x1ffffffn } } });
  },
  'change an access': (w, ctx, pick) => {
    const a = pickOf([...ctx.objects.values()].filter((o) => o.type === 'access'), pick);
    if (a?.type !== 'access') return undefined;
    const item = pickOf([...a.items.values()], pick);
    switch (pick(4)) {
      case 0:
        return setObject(w, ctx, { ...a, needsPin: !a.needsPin });
      case 1:
        return item === undefined ? undefined : setObject(w, ctx, { ...a, items: a.items.delete(item.id) });
      case 2:
        return item === undefined ? undefined : setObject(w, ctx, { ...a, items: a.items.set(item.id, { ...item, holds: item.holds.map((h) => ({ ...h, area: h.area + 0x1000n })) }) });
      default:
        return setObject(w, ctx, { ...a, ioas: pickOf([...ctx.objects.keys()], pick) ?? null });
    }
  },
  'drop a pages object': (w, ctx, pick) => {
    const id = pickOf([...ctx.pages.keys()], pick);
    return id === undefined ? undefined : { ...w, contexts: w.contexts.set(ctx.id, { ...ctx, pages: ctx.pages.delete(id) }) };
  },
  'change a pages object': (w, ctx, pick) => {
    const pages = pickOf([...ctx.pages.values()], pick);
    if (pages === undefined) return undefined;
    const hold = pickOf(pages.holds, pick);
    switch (pick(6)) {
      case 0:
        return setPages(w, ctx, { ...pages, writable: !pages.writable });
      case 1:
        return hold === undefined ? undefined : setPages(w, ctx, { ...pages, holds: pages.holds.filter((h) => h !== hold) });
      case 2:
        return hold === undefined ? undefined : setPages(w, ctx, { ...pages, holds: [...pages.holds, { ...hold, last: hold.last + 1n }] });
      case 3: {
        // Past the end of its area, for an access's hold over a whole area.
        const stretched = pickOf(pages.holds.filter((h) => areaOfHoldKey(h.key) === undefined), pick) ?? hold;
        return stretched === undefined ? undefined : setPages(w, ctx, { ...pages, holds: pages.holds.map((h) => (h === stretched ? { ...h, last: h.last + 1n } : h)) });
      }
      case 4:
        return setPages(w, ctx, { ...pages, charged: pages.charged + 1n });
      default:
        return setPages(w, ctx, { ...pages, areaRefs: pages.areaRefs + 1 });
    }
  },
  'change an area': (w, ctx, pick) => {
    const ioas = pickOf([...ctx.objects.values()].filter((o) => o.type === 'ioas'), pick);
    if (ioas?.type !== 'ioas') return undefined;
    const area = pickOf([...ioas.iopt.areas.values()], pick);
    if (area === undefined) return undefined;
    const areas = [
      ioas.iopt.areas.delete(area.start),
      ioas.iopt.areas.set(area.start, { ...area, last: area.last + 0x1000n }),
      ioas.iopt.areas.set(area.start, { ...area, pages: pickOf([...ctx.pages.keys()], pick) ?? 99 }),
      ioas.iopt.areas.set(area.start, { ...area, prot: area.prot ^ 2 }),
    ][pick(4)] as Ioas['iopt']['areas'];
    return setObject(w, ctx, { ...ioas, iopt: { ...ioas.iopt, areas } });
  },
  'change an IOAS': (w, ctx, pick) => {
    const ioas = pickOf([...ctx.objects.values()].filter((o) => o.type === 'ioas'), pick);
    if (ioas?.type !== 'ioas') return undefined;
    const { iopt } = ioas;
    const near = pickOf([...iopt.areas.values(), ...iopt.allowed.values()], pick);
    const span = near === undefined ? { start: 0x1000000n, last: 0x1000fffn } : { start: near.last, last: near.last + 0x1000n };
    const objects = [...ctx.objects.values()];
    const domain = pickOf(objects.filter((o) => o.type === 'hwpt_paging'), pick)?.id ?? 99;
    const access = pickOf(objects.filter((o) => o.type === 'access'), pick)?.id ?? 99;
    const spanAt = pickOf([...iopt.reservedSpans.keys()], pick);
    return setObject(w, ctx, [
      { ...ioas, iopt: { ...iopt, iovaAlignment: iopt.iovaAlignment * 2n } },
      { ...ioas, iopt: { ...iopt, reservedSpans: iopt.reservedSpans.set(span.start, span) } },
      { ...ioas, iopt: { ...iopt, reservedSpans: spanAt === undefined ? iopt.reservedSpans : iopt.reservedSpans.delete(spanAt) } },
      { ...ioas, iopt: { ...iopt, allowed: iopt.allowed.set(span.start, span) } },
      { ...ioas, domains: [...ioas.domains, domain] },
      { ...ioas, domains: ioas.domains.slice(1) },
      { ...ioas, accesses: [...ioas.accesses, access] },
      { ...ioas, accesses: ioas.accesses.slice(1) },
      { ...ioas, hugePagesDisabled: !ioas.hugePagesDisabled },
    ][pick(9)] as Ioas);
  },
  'change a device': (w, ctx, pick) => {
    const d = pickOf([...ctx.objects.values()].filter((o) => o.type === 'device'), pick);
    if (d?.type !== 'device') return undefined;
    const pasid = pickOf([...d.attached.keys()], pick);
    if (pick(3) === 0) return setObject(w, ctx, { ...d, vdevice: d.vdevice === null ? 99 : null });
    if (pick(2) === 0 && pasid !== undefined) return setObject(w, ctx, { ...d, attached: d.attached.delete(pasid) });
    return setObject(w, ctx, { ...d, attached: d.attached.set(pick(3), pickOf([...ctx.objects.keys()], pick) ?? 99) });
  },
  'miscount a process or a uid': (w, _ctx, pick) => {
    const p = pickOf([...w.processes.values()], pick);
    if (p === undefined) return undefined;
    if (pick(3) === 0) return { ...w, userLockedVm: w.userLockedVm.set(p.uid, (w.userLockedVm.get(p.uid) ?? 0n) + 1n) };
    return { ...w, processes: w.processes.set(p.pid, pick(2) === 0 ? { ...p, lockedVm: p.lockedVm + 1n } : { ...p, pinnedVm: p.pinnedVm + 1n }) };
  },
  'drop a context': (w, ctx) => ({ ...w, contexts: w.contexts.delete(ctx.id) }),
  'copy the configuration': (w) => ({ ...w, config: { ...w.config } }),
};

/** Traces whose snapshots hold accesses, several domains, devices and copies, for the corruptions to work on. */
const SNAPSHOT_TRACES = [
  'iommufd_ioas.two_mock_domain.access_pin.jsonl',
  'iommufd_ioas.two_mock_domain.access_pin_unmap.jsonl',
  'iommufd_ioas.mock_domain.access_domain_destory.jsonl',
  'iommufd_ioas.two_mock_domain.copy_area.jsonl',
  'iommufd_ioas.two_mock_domain.area_allowed.jsonl',
  'iommufd_ioas.two_mock_domain.hwpt_attach.jsonl',
  'iommufd_mock_domain.two_domains.all_aligns_copy.jsonl',
  'iommufd_mock_domain.two_domains.user_copy.jsonl',
  'vfio_compat_mock_domain.Ver1v2.map.jsonl',
].map((f) => join(CONFORMANCE_DIR, f));

function snapshotsOf(file: string): World[] {
  const trace = parseTraceText(readFileSync(file, 'utf8'), file);
  let world = createWorld(trace.header);
  const out: World[] = [];
  for (const event of trace.events) {
    const next = step(world, event, { adopt: true }).world;
    if (next !== world) out.push(next);
    world = next;
  }
  return out;
}

const ioases = (ctx: Ctx): Ioas[] => [...ctx.objects.values()].filter((o): o is Ioas => o.type === 'ioas');
const accesses = (ctx: Ctx): Access[] => [...ctx.objects.values()].filter((o): o is Access => o.type === 'access');

/** The first snapshot of a corpus trace with a context that `holds`. */
function firstWith(name: string, holds: (ctx: Ctx) => boolean): { world: World; ctx: Ctx } {
  for (const world of snapshotsOf(join(CONFORMANCE_DIR, name))) {
    for (const ctx of world.contexts.values()) if (holds(ctx)) return { world, ctx };
  }
  throw new Error(`no such snapshot in ${name}`);
}

/** Both trackers, fed the same snapshots, report the same violations after each. */
function expectSameReports(worlds: readonly World[]): void {
  const trackers: InvariantTracker[] = [new IncrementalInvariantTracker(), new FullInvariantTracker()];
  worlds.forEach((w, i) => {
    const [incremental, full] = trackers.map((t) => t.check(w));
    expect(incremental, `snapshot ${i}`).toEqual(full);
    expect(trackers[0]?.hasStanding, `snapshot ${i}`).toBe(trackers[1]?.hasStanding);
  });
}

describe('incremental invariants agree with the full check', () => {
  it('reads back the IOAS and area of an area hold key', () => {
    const area = { start: 0x12345000n, last: 0x12346fffn, pages: 3, startByte: 0n, prot: 3 };
    expect(areaOfHoldKey(areaHoldKey(7, area))).toEqual({ ioas: 7, start: 0x12345000n });
  });

  it('over the conformance corpus, the examples and the scenarios', () => {
    const files = [...conformanceTraces(), ...jsonl(EXAMPLES), ...jsonl(SCENARIOS)];
    const t = total(files.map((f) => sideBySideFile(f, new Set())));
    expect(t.events).toBeGreaterThan(180_000);
  });

  it("over every mutant's fuzz counterexample, and the scenarios and examples with that bug on", () => {
    const results: Compared[] = [];
    for (const bug of BUG_NAMES) {
      const bugs = new Set([bug]);
      const found = fuzz({ seed: 20261125, runs: 100, maxSteps: 60, shrink: false, bugs }).counterexample;
      if (found !== null) {
        const trace = parseTraceText(found.trace, `counterexample-${bug}.jsonl`);
        results.push(sideBySide(`counterexample of ${bug}`, trace.header, trace.events, bugs));
      }
      for (const f of [...jsonl(EXAMPLES), ...jsonl(SCENARIOS)]) results.push(sideBySideFile(f, bugs));
    }
    expect(total(results).violations).toBeGreaterThan(40);
  });

  it('over the conformance corpus with bugs on', () => {
    // The corpus less its 10k-event loops; each trace with one bug, in turn.
    const files = conformanceTraces().filter((f) => !/access_rw|fork_gone|ioas_iova_alloc/.test(f));
    const results = files.map((f, i) => sideBySideFile(f, new Set([BUG_NAMES[i % BUG_NAMES.length] as BugName]), i % 2 === 0));
    expect(total(results).violations).toBeGreaterThan(10);
  });

  it('over random runs with random bugs on', () => {
    const header = parseHeader(FUZZ_HEADER);
    let violations = 0;
    fc.assert(
      fc.property(fc.array(stepArbitrary(), { maxLength: 80, size: 'max' }), fc.subarray([...BUG_NAMES], { maxLength: 3 }), (raw, bugs) => {
        const events = concreteRun(header, [...PROLOGUE, ...raw.flat()]);
        violations += sideBySide('random run', header, events, new Set(bugs)).violations;
      }),
      propertySettings(1500),
    );
    expect(violations).toBeGreaterThan(0);
  });
  it("an access listed by a second IOAS has its items checked against that IOAS's areas", () => {
    const { world, ctx } = firstWith('iommufd_mock_domain.two_domains.user_copy.jsonl', (c) => accesses(c).some((a) => a.items.size > 0) && ioases(c).length >= 2);
    const access = accesses(ctx).find((a) => a.items.size > 0) as Access;
    const other = ioases(ctx).find((i) => !i.accesses.includes(access.id)) as Ioas;
    const listed = setObject(world, ctx, { ...other, accesses: [...other.accesses, access.id] });
    expectSameReports([world, listed, world]);
    expect(checkWorld(listed).map((v) => v.invariant)).toContain('holds-have-areas');
  });

  it("a pin stretched past an access item's area is found from the pages object alone", () => {
    const { world, ctx } = firstWith('iommufd_ioas.mock_domain.access_pin.jsonl', (c) => accesses(c).some((a) => a.items.size > 0));
    const item = [...(accesses(ctx).find((a) => a.items.size > 0) as Access).items.values()][0] as AccessItem;
    const held = item.holds[0] as AccessItem['holds'][number];
    const pages = ctx.pages.get(held.pages) as Pages;
    const stretched = setPages(world, ctx, { ...pages, holds: pages.holds.map((h) => (h.key === held.key ? { ...h, last: h.last + 0x100000n } : h)) });
    expectSameReports([world, stretched, world]);
    expect(checkWorld(stretched).map((v) => v.invariant)).toContain('holds-within-area');
  });

  it('when areas overlap, a reserved span is checked against every area it meets', () => {
    // A long area overlapping the next one: a range query from the span's start finds only
    // the short one, so the incremental check must look at every area of the IOAS.
    const snapshots = snapshotsOf(join(CONFORMANCE_DIR, 'iommufd_ioas.two_mock_domain.copy_area.jsonl'));
    const base = snapshots.find((w) => [...w.contexts.values()].some((c) => [...c.objects.values()].some((o) => o.type === 'ioas' && o.iopt.areas.size >= 2)));
    const ctx = [...(base as World).contexts.values()].find((c) => [...c.objects.values()].some((o) => o.type === 'ioas' && o.iopt.areas.size >= 2)) as Ctx;
    const ioas = [...ctx.objects.values()].find((o) => o.type === 'ioas' && o.iopt.areas.size >= 2) as Ioas;
    const [first, second] = [...ioas.iopt.areas.values()] as [Area, Area];
    const longLast = second.last + 0x10000n;
    const overlapping = setObject(base as World, ctx, { ...ioas, iopt: { ...ioas.iopt, areas: ioas.iopt.areas.set(first.start, { ...first, last: longLast }) } });
    const ctx2 = overlapping.contexts.get(ctx.id) as Ctx;
    const ioas2 = ctx2.objects.get(ioas.id) as Ioas;
    const span = { start: longLast, last: longLast };
    const reserved = setObject(overlapping, ctx2, { ...ioas2, iopt: { ...ioas2.iopt, reservedSpans: ioas2.iopt.reservedSpans.set(span.start, span) } });
    expectSameReports([base as World, overlapping, reserved, base as World]);
    expect(checkWorld(reserved).map((v) => v.invariant)).toContain('areas-outside-reserved');
  });

  it('over snapshots changed as no command would', () => {
    const header = parseHeader(FUZZ_HEADER);
    const names = Object.keys(CORRUPTIONS);
    const applied = new Map<string, number>();
    const traced = SNAPSHOT_TRACES.map(snapshotsOf);
    const randomRun = fc.array(stepArbitrary(), { minLength: 10, maxLength: 60, size: 'max' }).map((raw) => {
      let world = createWorld(header, { bugs: new Set() });
      const snapshots: World[] = [];
      [...PROLOGUE, ...raw.flat()].forEach((e, i) => {
        const next = step(world, parseEvent(resolveFds(world, e), i + 2), { adopt: false }).world;
        if (next !== world) snapshots.push(next);
        world = next;
      });
      return snapshots;
    });
    const tracedRun = fc.tuple(fc.nat(traced.length - 1), fc.nat()).map(([t, at]) => {
      const all = traced[t] as World[];
      const from = at % all.length;
      return all.slice(from, from + 40);
    });
    fc.assert(
      fc.property(
        fc.oneof(randomRun, tracedRun),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...names), fc.array(fc.nat(), { minLength: 8, maxLength: 8 })), { minLength: 1, maxLength: 6 }),
        (run, corruptions) => {
          const snapshots = [...run];
          // Each corrupted snapshot goes in after the one it was made from (which may be
          // corrupted already); the next snapshot of the run mends it again.
          for (const [at, name, picks] of corruptions) {
            const k = at % snapshots.length;
            const w = snapshots[k] as World;
            let n = 0;
            const pick: Pick = (m) => (picks[n++ % picks.length] as number) % m;
            const ctx = pickOf([...w.contexts.values()], pick);
            const corrupt = ctx === undefined ? undefined : CORRUPTIONS[name]?.(w, ctx, pick);
            if (corrupt === undefined) continue;
            snapshots.splice(k + 1, 0, corrupt);
            applied.set(name, (applied.get(name) ?? 0) + 1);
          }
          expectSameReports(snapshots);
        },
      ),
      propertySettings(1000),
    );
    for (const name of names) expect(applied.get(name) ?? 0, name).toBeGreaterThan(10);
  });
});
