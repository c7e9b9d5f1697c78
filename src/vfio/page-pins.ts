/**
 * The pages legacy VFIO holds pinned (FOLL_PIN, each pin `GUP_PIN_COUNTING_BIAS` in the page's
 * refcount), whatever it charged for them:
 * - a native type1 mapping pins each of its pages once, however many domains map it
 *   (`vfio_pin_pages_remote()`);
 * - a SPAPR pre-registered region pins each of its pages once, however many containers use it
 *   (`mm_iommu_do_alloc()`);
 * - a SPAPR v1 TCE pins the system page it points into (`tce_iommu_use_page()`), so a page
 *   under several TCEs (4 KiB IOMMU pages in a larger system page) is pinned once per TCE.
 * v2 TCEs pin nothing: they point into pre-registered regions.
 */
import type { HeldPins } from '../mm/pin-counts.ts';
import type { World } from '../model/world.ts';
import type { TceRun } from './spapr-state.ts';
import type { DmaPin } from './state.ts';

const once = (pins: readonly DmaPin[]): HeldPins[] => pins.map((p) => ({ obj: p.obj, index: p.index, count: p.count, pins: 1n }));

/**
 * The pins of a v1 TCE run, page by page from its first system page: the TCEs in each. v1's one
 * window has 4 KiB IOMMU pages, none larger than a system page, so the pages between the first
 * and the last hold `pageSize >> shift` TCEs each; at most three stretches of one count.
 */
function tcePins(run: TceRun, shift: bigint, pageSize: bigint): HeldPins[] {
  const perPage = pageSize >> shift;
  const tces = run.last - run.start + 1n;
  const head = (pageSize - (run.ua % pageSize)) >> shift;
  const first = tces < head ? tces : head;
  const full = (tces - first) / perPage;
  const tail = (tces - first) % perPage;
  const stretches = [
    { at: 0n, count: 1n, pins: first },
    { at: 1n, count: full, pins: perPage },
    { at: 1n + full, count: tail === 0n ? 0n : 1n, pins: tail },
  ];
  const out: HeldPins[] = [];
  let at = 0n;
  for (const p of run.pins) {
    for (const s of stretches) {
      const from = s.at > at ? s.at : at;
      const to = s.at + s.count < at + p.count ? s.at + s.count : at + p.count;
      if (from < to) out.push({ obj: p.obj, index: p.index + (from - at), count: to - from, pins: s.pins });
    }
    at += p.count;
  }
  return out;
}

export function* vfioPins(world: World): Generator<HeldPins> {
  const { pageSize } = world.config;
  for (const container of world.vfio.containers.values()) {
    const driver = container.driver;
    if (driver?.kind === 'type1') {
      for (const dma of driver.iommu.dmas.values()) yield* once(dma.pins);
    } else if (driver?.kind === 'spapr_tce') {
      for (const table of driver.iommu.tables) {
        if (table === null) continue;
        for (const run of table.tces.values()) if (run.pins.length > 0) yield* tcePins(run, BigInt(table.pageShift), pageSize);
      }
    }
  }
  for (const mm of world.vfio.spaprMms.values()) {
    for (const region of mm.regions.values()) yield* once(region.pins);
  }
}
