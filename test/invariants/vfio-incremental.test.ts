/**
 * The VFIO invariants (src/invariants/vfio-checks.ts, spapr-checks.ts): `replay --invariants`
 * checks only the containers, mappings, TCE runs, pre-registered regions and groups an event
 * changed, and must report what the whole-snapshot check reports, at the same events: over the
 * native VFIO and SPAPR TCE scenarios and the POWER example with and without the type1 and
 * SPAPR bugs on, over the fuzzer's runs, and over snapshots changed as no command would. Each
 * invariant also fires on a snapshot made to break it, and a type1 unmap's step check on an
 * unmap that removed what the kernel's would not.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import type { TraceHeader } from '../../events/types.ts';
import { FUZZ_HEADER, type FuzzEvent, PROLOGUE, stepArbitrary } from '../../src/fuzz/arbitraries.ts';
import { resolveFds } from '../../src/fuzz/fd-refs.ts';
import { IncrementalInvariantTracker } from '../../src/invariants/incremental.ts';
import { FullInvariantTracker, type InvariantTracker, checkStep, checkWorld } from '../../src/invariants/invariants.ts';
import { step } from '../../src/model/dispatch.ts';
import { BUG_NAMES, type BugName } from '../../src/model/mutants.ts';
import type { World } from '../../src/model/world.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { regionKey } from '../../src/vfio/prereg.ts';
import type { PreregRegion, SpaprMm, SpaprTce, TceRun, TceTable } from '../../src/vfio/spapr-state.ts';
import type { Container, Type1, VfioDma, VfioGroup } from '../../src/vfio/state.ts';
import { propertySettings } from '../fc-settings.ts';

const SCENARIOS = resolve(import.meta.dirname, '../vfio/scenarios');
const SPAPR_SCENARIOS = resolve(import.meta.dirname, '../vfio/spapr-scenarios');
const POWER_GUEST = resolve(import.meta.dirname, '../../examples/power-guest.jsonl');
const jsonl = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(dir, f));
const scenarios = (): string[] => [...jsonl(SCENARIOS), ...jsonl(SPAPR_SCENARIOS), POWER_GUEST];
const VFIO_BUGS = BUG_NAMES.filter((name) => name.startsWith('type1-') || name.startsWith('spapr-'));

/** Each snapshot a run of events goes through, from a fresh model of `header`. */
function snapshotsOf(header: TraceHeader, events: readonly FuzzEvent[], bugs: ReadonlySet<BugName> = new Set()): World[] {
  let world = createWorld(header, { bugs });
  const out: World[] = [world];
  for (const [i, e] of events.entries()) {
    let next: World;
    try {
      next = step(world, parseEvent(resolveFds(world, e), i + 2), { adopt: true }).world;
    } catch (error: unknown) {
      // A bug switched on can break what the model itself relies on: the run ends there.
      if (bugs.size > 0) break;
      throw error;
    }
    if (next !== world) out.push(next);
    world = next;
  }
  return out;
}

function scenarioSnapshots(file: string, bugs: ReadonlySet<BugName> = new Set()): World[] {
  const trace = parseTraceText(readFileSync(file, 'utf8'), file);
  let world = createWorld(trace.header, { bugs });
  const out: World[] = [world];
  for (const event of trace.events) {
    const next = step(world, event, { adopt: true }).world;
    if (next !== world) out.push(next);
    world = next;
  }
  return out;
}

/** Both trackers, fed the same snapshots, report the same violations after each; returns how many. */
function expectSameReports(worlds: readonly World[], what: string): number {
  const trackers: InvariantTracker[] = [new IncrementalInvariantTracker(), new FullInvariantTracker()];
  let n = 0;
  worlds.forEach((w, i) => {
    const [incremental, full] = trackers.map((t) => t.check(w));
    expect(incremental, `${what}, snapshot ${i}`).toEqual(full);
    expect(trackers[0]?.hasStanding, `${what}, snapshot ${i}`).toBe(trackers[1]?.hasStanding);
    n += full?.length ?? 0;
  });
  return n;
}

const containers = (w: World): Container[] => [...w.vfio.containers.values()];
const type1Of = (c: Container | undefined): Type1 | undefined => (c?.driver?.kind === 'type1' ? c.driver.iommu : undefined);
const withContainer = (w: World, c: Container): World => ({ ...w, vfio: { ...w.vfio, containers: w.vfio.containers.set(c.id, c) } });
const withType1 = (w: World, c: Container, iommu: Type1): World => withContainer(w, { ...c, driver: { kind: 'type1', iommu } });
const withGroup = (w: World, g: VfioGroup): World => ({ ...w, vfio: { ...w.vfio, groups: w.vfio.groups.set(g.id, g) } });
const spaprOf = (c: Container | undefined): SpaprTce | undefined => (c?.driver?.kind === 'spapr_tce' ? c.driver.iommu : undefined);
const withSpapr = (w: World, c: Container, iommu: SpaprTce): World => withContainer(w, { ...c, driver: { kind: 'spapr_tce', iommu } });
const withTable = (w: World, c: Container, iommu: SpaprTce, slot: 0 | 1, table: TceTable | null): World =>
  withSpapr(w, c, { ...iommu, tables: slot === 0 ? [table, iommu.tables[1]] : [iommu.tables[0], table] });
const withRegions = (w: World, pid: number, mm: SpaprMm, regions: SpaprMm['regions']): World => ({
  ...w,
  vfio: { ...w.vfio, spaprMms: w.vfio.spaprMms.set(pid, { ...mm, regions }) },
});
/** The TCE runs of every SPAPR TCE container, with where they are. */
const runs = (w: World): { c: Container; iommu: SpaprTce; slot: 0 | 1; table: TceTable; run: TceRun }[] =>
  containers(w).flatMap((c) => {
    const iommu = spaprOf(c);
    if (iommu === undefined) return [];
    return ([0, 1] as const).flatMap((slot) => {
      const table = iommu.tables[slot];
      return table === null ? [] : [...table.tces.values()].map((run) => ({ c, iommu, slot, table, run }));
    });
  });
/** The pre-registered regions of every mm. */
const regions = (w: World): { pid: number; mm: SpaprMm; key: bigint; region: PreregRegion }[] =>
  [...w.vfio.spaprMms].flatMap(([pid, mm]) => [...mm.regions].map(([key, region]) => ({ pid, mm, key, region })));
const withDma = (w: World, c: Container, iommu: Type1, key: bigint, dma: VfioDma | undefined): World =>
  withType1(w, c, { ...iommu, dmas: dma === undefined ? iommu.dmas.delete(key) : iommu.dmas.set(key, dma) });

/** Random picks for a corruption: each call takes the next number, modulo `n`. */
type Pick = (n: number) => number;
const pickOf = <T>(xs: readonly T[], pick: Pick): T | undefined => (xs.length === 0 ? undefined : xs[pick(xs.length)]);

/** Changes no command makes, each to one VFIO record. */
const CORRUPTIONS: Readonly<Record<string, (w: World, pick: Pick) => World | undefined>> = {
  'change a container': (w, pick) => {
    const c = pickOf(containers(w), pick);
    if (c === undefined) return undefined;
    const g = pickOf([...w.vfio.groups.keys()], pick) ?? 1;
    return withContainer(w, [
      { ...c, fileOpen: !c.fileOpen },
      { ...c, groups: c.groups.slice(1) },
      { ...c, groups: [...c.groups, g] },
      { ...c, groups: [] },
    ][pick(4)] as Container);
  },
  'change a type1 driver': (w, pick) => {
    const c = pickOf(containers(w).filter((x) => type1Of(x) !== undefined), pick);
    const iommu = type1Of(c);
    if (c === undefined || iommu === undefined) return undefined;
    const pid = pickOf([...w.processes.keys()], pick) ?? 1;
    const domain = iommu.domains[0];
    return withType1(w, c, [
      { ...iommu, dmaAvail: iommu.dmaAvail + 1n },
      { ...iommu, vaddrInvalid: iommu.vaddrInvalid + 1 },
      { ...iommu, charged: iommu.charged.set(pid, (iommu.charged.get(pid) ?? 0n) + 1n) },
      domain === undefined ? iommu : { ...iommu, domains: [{ ...domain, groups: domain.groups.slice(1) }, ...iommu.domains.slice(1)] },
    ][pick(4)] as Type1);
  },
  'change a mapping': (w, pick) => {
    const c = pickOf(containers(w).filter((x) => (type1Of(x)?.dmas.size ?? 0) > 0), pick);
    const iommu = type1Of(c);
    const dma = iommu === undefined ? undefined : pickOf([...iommu.dmas.values()], pick);
    if (c === undefined || iommu === undefined || dma === undefined) return undefined;
    const pid = pickOf([...w.processes.keys()], pick) ?? 1;
    const page = w.config.pageSize;
    return [
      () => withDma(w, c, iommu, dma.start, { ...dma, lockedVm: dma.lockedVm + 1n }),
      () => withDma(w, c, iommu, dma.start, { ...dma, last: dma.last + page }),
      () => withDma(w, c, iommu, dma.start, { ...dma, vaddrInvalid: !dma.vaddrInvalid }),
      () => withDma(w, c, iommu, dma.start, { ...dma, owner: pid }),
      () => withDma(w, c, iommu, dma.start, undefined),
      () => withDma(w, c, iommu, dma.last + 1n, { ...dma, start: dma.last + 1n, last: dma.last + (dma.last - dma.start + 1n) }),
    ][pick(6)]?.();
  },
  'change a group': (w, pick) => {
    const g = pickOf([...w.vfio.groups.values()], pick);
    if (g === undefined) return undefined;
    const c = pickOf([...w.vfio.containers.keys()], pick) ?? 99;
    return withGroup(w, [
      { ...g, container: g.container === null ? c : null },
      { ...g, containerUsers: g.containerUsers + 1 },
      { ...g, opened: g.opened === null ? 99 : null },
      { ...g, opens: g.opens.map((n, i) => (i === 0 ? n + 1 : n)) },
      { ...g, iommufd: g.iommufd === null ? 99 : null },
    ][pick(5)] as VfioGroup);
  },
  'change the open files': (w, pick) => {
    const vfioFiles = [...w.files.values()].filter((f) => f.kind === 'container' || f.kind === 'group');
    const f = pickOf(vfioFiles, pick);
    const id = w.nextFileId + 100;
    return [
      () => (f === undefined ? undefined : { ...w, files: w.files.delete(f.id) }),
      () => ({ ...w, files: w.files.set(id, { id, refs: 1, kind: 'container' as const, container: pickOf([...w.vfio.containers.keys()], pick) ?? 99 }) }),
      () => ({ ...w, files: w.files.set(id, { id, refs: 1, kind: 'group' as const, group: pickOf([...w.vfio.groups.keys()], pick) ?? 1 }) }),
    ][pick(3)]?.();
  },
  'change a SPAPR TCE driver': (w, pick) => {
    const c = pickOf(containers(w).filter((x) => spaprOf(x) !== undefined), pick);
    const iommu = spaprOf(c);
    if (c === undefined || iommu === undefined) return undefined;
    const slot = pick(2) as 0 | 1;
    const table = iommu.tables[slot];
    const pid = pickOf([...w.processes.keys(), 99], pick) ?? 1;
    return [
      () => withSpapr(w, c, { ...iommu, enabled: true, lockedPages: iommu.lockedPages + 1n }),
      () => withSpapr(w, c, { ...iommu, enabled: !iommu.enabled }),
      () => withSpapr(w, c, { ...iommu, mm: pick(3) === 0 ? null : pid }),
      () => withSpapr(w, c, { ...iommu, groups: iommu.groups.slice(1) }),
      () => withSpapr(w, c, { ...iommu, v2: !iommu.v2 }),
      () => (table === null ? undefined : withTable(w, c, iommu, slot, { ...table, charged: table.charged + 1n })),
      () => (table === null ? undefined : withTable(w, c, iommu, slot, { ...table, offset: table.offset + 1n, size: table.size + BigInt(pick(2)) })),
      () => withTable(w, c, iommu, slot, null),
    ][pick(8)]?.();
  },
  'change a TCE run': (w, pick) => {
    const at = pickOf(runs(w), pick);
    if (at === undefined) return undefined;
    const { c, iommu, slot, table, run } = at;
    const put = (key: bigint, r: TceRun | undefined): World =>
      withTable(w, c, iommu, slot, { ...table, tces: r === undefined ? table.tces.delete(key) : table.tces.delete(run.start).set(key, r) });
    const other = pickOf(regions(w), pick)?.key ?? null;
    return [
      () => put(run.start, { ...run, last: run.last + BigInt(pick(3)) }),
      () => put(run.start + 1n, run),
      () => put(run.start, { ...run, region: pick(2) === 0 ? null : other }),
      () => put(run.start, { ...run, ua: run.ua + w.config.pageSize }),
      () => put(run.start, { ...run, pins: run.pins.slice(1) }),
      () => put(run.start, undefined),
      () => (table.offset === 0n ? undefined : put(table.offset - 1n, { ...run, start: table.offset - 1n })),
    ][pick(7)]?.();
  },
  'change a pre-registered region': (w, pick) => {
    const at = pickOf(regions(w), pick);
    if (at === undefined) return undefined;
    const { pid, mm, key, region } = at;
    const put = (k: bigint, r: PreregRegion | undefined): World => withRegions(w, pid, mm, r === undefined ? mm.regions.delete(k) : mm.regions.set(k, r));
    const holder = pickOf([...w.vfio.containers.keys(), 99], pick) ?? 99;
    const page = w.config.pageSize;
    return [
      () => put(key, { ...region, used: region.used + pick(3) - 1 }),
      () => put(key, { ...region, holders: [...region.holders, holder] }),
      () => put(key, { ...region, holders: region.holders.slice(1) }),
      () => put(key, { ...region, mapped: region.mapped + 1n }),
      () => put(key, { ...region, stranded: region.stranded + 1n }),
      () => put(key, { ...region, entries: region.entries + 1n }),
      () => put(key, undefined),
      () => put(regionKey(region.ua + page, region.entries), { ...region, ua: region.ua + page }),
    ][pick(8)]?.();
  },
  'drop a container': (w, pick) => {
    const c = pickOf(containers(w), pick);
    return c === undefined ? undefined : { ...w, vfio: { ...w.vfio, containers: w.vfio.containers.delete(c.id) } };
  },
};

/** Fuzz runs: the fuzzer's commands (its VFIO sequences included) after its prologue. */
const fuzzRun = (maxLength: number) =>
  fc.array(stepArbitrary(), { minLength: 5, maxLength, size: 'max' }).map((steps) => [...PROLOGUE, ...steps.flat()]);

describe('VFIO invariants, incremental against full', () => {
  it('over the native VFIO and SPAPR TCE scenarios, faithful and with each type1 and SPAPR bug on', () => {
    let violations = 0;
    for (const file of scenarios()) {
      expect(expectSameReports(scenarioSnapshots(file), file), file).toBe(0);
      for (const bug of VFIO_BUGS) violations += expectSameReports(scenarioSnapshots(file, new Set([bug])), `${file} with ${bug}`);
    }
    expect(violations).toBeGreaterThan(0);
  });

  it("over the fuzzer's runs, with type1 and SPAPR bugs on", () => {
    const header = parseHeader(FUZZ_HEADER);
    let violations = 0;
    fc.assert(
      fc.property(fuzzRun(60), fc.subarray([...VFIO_BUGS], { maxLength: 2 }), (events, bugs) => {
        violations += expectSameReports(snapshotsOf(header, events, new Set(bugs)), `bugs [${bugs.join(',')}]`);
      }),
      propertySettings(400),
    );
    expect(violations).toBeGreaterThan(0);
  });

  it('over snapshots changed as no command would', () => {
    const header = parseHeader(FUZZ_HEADER);
    const traced = scenarios().map((f) => scenarioSnapshots(f));
    const names = Object.keys(CORRUPTIONS);
    const applied = new Map<string, number>();
    const run = fc.oneof(
      fuzzRun(40).map((events) => snapshotsOf(header, events)),
      fc.nat(traced.length - 1).map((t) => traced[t] as World[]),
    );
    fc.assert(
      fc.property(
        run,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...names), fc.array(fc.nat(), { minLength: 8, maxLength: 8 })), { minLength: 1, maxLength: 6 }),
        (runSnapshots, corruptions) => {
          const snapshots = [...runSnapshots];
          // Each corrupted snapshot goes in after the one it was made from; the next snapshot of the run mends it.
          for (const [at, name, picks] of corruptions) {
            const k = at % snapshots.length;
            let n = 0;
            const pick: Pick = (m) => (picks[n++ % picks.length] as number) % m;
            const corrupt = CORRUPTIONS[name]?.(snapshots[k] as World, pick);
            if (corrupt === undefined) continue;
            snapshots.splice(k + 1, 0, corrupt);
            applied.set(name, (applied.get(name) ?? 0) + 1);
          }
          expectSameReports(snapshots, 'corrupted run');
        },
      ),
      propertySettings(600),
    );
    for (const name of names) expect(applied.get(name) ?? 0, name).toBeGreaterThan(10);
  });
});

describe('VFIO invariants fire', () => {
  /** The native v2 scenario once it has two mappings. */
  const mapped = (): { world: World; container: Container; iommu: Type1; dma: VfioDma } => {
    for (const world of scenarioSnapshots(join(SCENARIOS, 'native-v2.jsonl'))) {
      const container = containers(world).find((c) => (type1Of(c)?.dmas.size ?? 0) >= 2);
      const iommu = type1Of(container);
      const dma = iommu?.dmas.values().next().value;
      if (container !== undefined && iommu !== undefined && dma !== undefined) return { world, container, iommu, dma };
    }
    throw new Error('no snapshot with two mappings');
  };
  const invariants = (w: World): string[] => checkWorld(w).map((v) => v.invariant);

  it('the faithful snapshot breaks none', () => {
    expect(checkWorld(mapped().world)).toEqual([]);
  });

  it.each([
    ['type1-dma-charge', ({ world, container, iommu, dma }: ReturnType<typeof mapped>) => withDma(world, container, iommu, dma.start, { ...dma, lockedVm: dma.lockedVm - 1n })],
    ['type1-charged-sum', ({ world, container, iommu, dma }: ReturnType<typeof mapped>) => withDma(world, container, iommu, dma.start, { ...dma, owner: 99 })],
    ['type1-dma-avail', ({ world, container, iommu }: ReturnType<typeof mapped>) => withType1(world, container, { ...iommu, dmaAvail: iommu.dmaAvail - 1n })],
    ['type1-vaddr-invalid-count', ({ world, container, iommu }: ReturnType<typeof mapped>) => withType1(world, container, { ...iommu, vaddrInvalid: 1 })],
    ['type1-dmas-disjoint', ({ world, container, iommu, dma }: ReturnType<typeof mapped>) => withDma(world, container, iommu, dma.start, { ...dma, last: dma.last + 0x100000n })],
    ['type1-domains-hold-groups', ({ world, container, iommu }: ReturnType<typeof mapped>) => withType1(world, container, { ...iommu, domains: [] })],
    ['vfio-group-links', ({ world, container }: ReturnType<typeof mapped>) => withContainer(world, { ...container, groups: [...container.groups, 8] })],
    ['vfio-container-held', ({ world, container }: ReturnType<typeof mapped>) => withContainer(world, { ...container, fileOpen: false })],
    ['vfio-group-users', ({ world, container }: ReturnType<typeof mapped>) => {
      const g = world.vfio.groups.get(container.groups[0] as number) as VfioGroup;
      return withGroup(world, { ...g, containerUsers: g.containerUsers + 1 });
    }],
    ['vfio-group-file', ({ world, container }: ReturnType<typeof mapped>) => {
      const g = world.vfio.groups.get(container.groups[0] as number) as VfioGroup;
      return withGroup(world, { ...g, opened: null });
    }],
  ])('%s', (invariant, corrupt) => {
    const base = mapped();
    expect(invariants(corrupt(base))).toContain(invariant);
    expectSameReports([base.world, corrupt(base), base.world], invariant);
  });

  it('a process whose locked_vm misses a container charge breaks accounting-sums', () => {
    const { world, iommu } = mapped();
    const [pid] = [...iommu.charged.keys()] as [number];
    const p = world.processes.get(pid);
    if (p === undefined) throw new Error('no owner');
    const short = { ...world, processes: world.processes.set(pid, { ...p, lockedVm: p.lockedVm - 1n }) };
    expect(invariants(short)).toContain('accounting-sums');
  });

  it('a type1 unmap that removed a mapping it starts inside, or reported another size, breaks the step check', () => {
    const { world, container, iommu, dma } = mapped();
    const event = parseEvent({ op: 'VFIO_IOMMU_UNMAP_DMA', args: { iova: `0x${(dma.start + 0x1000n).toString(16)}`, size: '0x1000' } }, 2);
    const removed = withDma(world, container, iommu, dma.start, undefined);
    const of = (after: World, size: bigint) => checkStep(world, after, event, { world: after, errno: null, out: { size } }).map((v) => v.invariant);
    expect(of(removed, 0n)).toEqual(['type1-unmap-range']);
    expect(of(removed, dma.last - dma.start + 1n)).toEqual(['type1-unmap-range', 'type1-unmap-size']);
    expect(of(world, 0x1000n)).toEqual(['type1-unmap-size']);
    expect(of(world, 0n)).toEqual([]);
  });
});

describe('SPAPR TCE invariants fire', () => {
  /** The POWER example once two containers map guest RAM pre-registered once: both hold the region, and TCEs of both point into it. */
  const shared = (): { world: World; c: Container; iommu: SpaprTce; pid: number; mm: SpaprMm; key: bigint; region: PreregRegion } => {
    for (const world of scenarioSnapshots(POWER_GUEST)) {
      const r = regions(world).find((x) => x.region.holders.length === 2 && x.region.mapped > 0n);
      const c = containers(world).find((x) => spaprOf(x)?.tables[1]?.tces.size === 1);
      const iommu = spaprOf(c);
      if (r !== undefined && c !== undefined && iommu !== undefined) return { world, c, iommu, ...r };
    }
    throw new Error('no snapshot of two containers mapping a shared region');
  };
  const invariants = (w: World): string[] => checkWorld(w).map((v) => v.invariant);
  type Base = ReturnType<typeof shared>;
  const window = ({ iommu }: Base): TceTable => iommu.tables[1] as TceTable;
  const run = (b: Base): TceRun => [...window(b).tces.values()][0] as TceRun;
  const withRun = (b: Base, key: bigint, r: TceRun): World => withTable(b.world, b.c, b.iommu, 1, { ...window(b), tces: window(b).tces.delete(run(b).start).set(key, r) });
  const withRegion = (b: Base, region: PreregRegion, key = b.key): World => withRegions(b.world, b.pid, b.mm, b.mm.regions.set(key, region));

  it('the faithful snapshot breaks none', () => {
    expect(checkWorld(shared().world)).toEqual([]);
  });

  it.each([
    ['spapr-groups', (b: Base) => withSpapr(b.world, b.c, { ...b.iommu, groups: [] })],
    ['spapr-mm-bound', (b: Base) => withSpapr(b.world, b.c, { ...b.iommu, mm: null })],
    ['spapr-enable-charge', (b: Base) => withSpapr(b.world, b.c, { ...b.iommu, lockedPages: 1n })],
    ['spapr-table-charge', (b: Base) => withTable(b.world, b.c, b.iommu, 1, { ...window(b), charged: window(b).charged * 2n })],
    ['spapr-window-bounds', (b: Base) => withRun(b, run(b).start + 1n, run(b))],
    ['spapr-tce-backing', (b: Base) => withRun(b, run(b).start, { ...run(b), ua: run(b).ua + b.world.config.pageSize })],
    ['prereg-region', (b: Base) => withRegion(b, { ...b.region, pins: b.region.pins.slice(1) })],
    ['prereg-regions-disjoint', (b: Base) => withRegion(b, { ...b.region, ua: b.region.ua + b.world.config.pageSize }, regionKey(b.region.ua + b.world.config.pageSize, b.region.entries))],
    ['prereg-used', (b: Base) => withRegion(b, { ...b.region, used: b.region.used + 2 })],
    ['prereg-holders', (b: Base) => withRegion(b, { ...b.region, holders: [...b.region.holders.slice(1), 99] })],
    ['prereg-mapped', (b: Base) => withRegion(b, { ...b.region, mapped: b.region.mapped + 1n })],
  ])('%s', (invariant, corrupt) => {
    const base = shared();
    expect(invariants(corrupt(base))).toContain(invariant);
    expectSameReports([base.world, corrupt(base), base.world], invariant);
  });

  it('a v1 container charges its PE\'s whole 32-bit window at ENABLE, and its TCEs hold the pins of the pages under them', () => {
    const world = scenarioSnapshots(join(SPAPR_SCENARIOS, 'spapr-v1-enable.jsonl')).find((w) => runs(w).length > 0);
    const at = world === undefined ? undefined : runs(world)[0];
    if (world === undefined || at === undefined) throw new Error('no v1 snapshot with TCEs');
    expect(checkWorld(world)).toEqual([]);
    const { c, iommu, slot, table, run: r } = at;
    expect(invariants(withSpapr(world, c, { ...iommu, lockedPages: iommu.lockedPages - 1n }))).toEqual(['accounting-sums', 'spapr-enable-charge']);
    expect(invariants(withTable(world, c, iommu, slot, { ...table, tces: table.tces.set(r.start, { ...r, pins: [] }) }))).toEqual(['spapr-tce-backing']);
  });

  it('a region the kernel leaves listed with a reference no container holds is no violation', () => {
    const snapshots = scenarioSnapshots(join(SPAPR_SCENARIOS, 'spapr-unregister-quirk.jsonl'));
    const leaked = snapshots.flatMap(regions).filter((r) => r.region.holders.length === 0 && r.region.used === 1);
    expect(leaked.length).toBeGreaterThan(0);
    expect(expectSameReports(snapshots, 'unregister quirk')).toBe(0);
  });
});
