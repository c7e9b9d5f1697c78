/**
 * How many pins each physical page carries: what `page_ref_count() / GUP_PIN_COUNTING_BIAS`
 * reads (`TEST_MD_CHECK_REFS`), and what makes fork() keep a page the parent's alone
 * (`folio_maybe_dma_pinned()`). Every FOLL_PIN holder counts: iommufd's pages objects and the
 * pins of legacy VFIO (vfio/page-pins.ts).
 */
import { iommufdPins } from '../iommufd/pages/pages.ts';
import type { World } from '../model/world.ts';
import { vfioPins } from '../vfio/page-pins.ts';

/** `count` physical pages from `index` of memory object `obj`, each pinned `pins` times by one holder. */
export interface HeldPins {
  readonly obj: string;
  readonly index: bigint;
  readonly count: bigint;
  readonly pins: bigint;
}

/** `count` pages from `index` of memory object `obj` that carry the same number of pins. */
export interface PinnedStretch {
  readonly index: bigint;
  readonly count: bigint;
  readonly pins: bigint;
}

/**
 * A reader that splits a run of pages into stretches of one count. Making it costs the pinned
 * runs there are, once for a command; a read costs the runs on its memory object, not the
 * pages it spans.
 */
export function pinCounts(world: World): (obj: string, index: bigint, count: bigint) => PinnedStretch[] {
  const byObj = new Map<string, HeldPins[]>();
  const hold = (held: HeldPins): void => {
    const spans = byObj.get(held.obj);
    if (spans === undefined) byObj.set(held.obj, [held]);
    else spans.push(held);
  };
  for (const held of iommufdPins(world)) hold(held);
  for (const held of vfioPins(world)) hold(held);
  return (obj, index, count) => {
    const last = index + count - 1n;
    const edges: { at: bigint; delta: bigint }[] = [];
    for (const s of byObj.get(obj) ?? []) {
      const sLast = s.index + s.count - 1n;
      if (sLast < index || s.index > last) continue;
      edges.push({ at: s.index > index ? s.index : index, delta: s.pins }, { at: (sLast < last ? sLast : last) + 1n, delta: -s.pins });
    }
    edges.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const out: PinnedStretch[] = [];
    let at = index;
    let pins = 0n;
    for (const e of edges) {
      if (e.at > at) {
        const prev = out[out.length - 1];
        if (prev !== undefined && prev.pins === pins) out[out.length - 1] = { ...prev, count: prev.count + (e.at - at) };
        else out.push({ index: at, count: e.at - at, pins });
        at = e.at;
      }
      pins += e.delta;
    }
    if (at <= last) out.push({ index: at, count: last + 1n - at, pins });
    return out;
  };
}
