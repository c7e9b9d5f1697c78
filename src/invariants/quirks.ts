/**
 * Kernel quirks: what the kernel does that looks wrong, which the model does too and reports
 * apart from the invariants' violations. A quirk is the model being faithful, not broken: it
 * is listed beside the violations and never fails a replay. Each is reported once, at the step
 * where it appears:
 * - `prereg-region-leaked`: a pre-registered region left in its mm's list, pinned and charged,
 *   with a reference no container holds (an unregister or a container release while TCEs
 *   still point into it; docs/spapr-unregister-quirk.md);
 * - `tce-table-charge-leaked`: a TCE table's memory charged by a CREATE that PowerNV then
 *   refused, never uncharged (`tce_iommu_create_table()`);
 * - `tce-past-window`: a MAP set TCEs past its window's last entry (`iommu_tce_check_ioba()`
 *   checks the first IOVA only).
 */
import { OrderedMap } from '../model/ordered-map.ts';
import type { World } from '../model/world.ts';
import type { PreregRegion, SpaprMm, TceTable } from '../vfio/spapr-state.ts';
import type { Container } from '../vfio/state.ts';
import { hex } from './state-checks.ts';

export interface Quirk {
  readonly quirk: string;
  readonly detail: string;
}

const NO_REGIONS = OrderedMap.empty<bigint, PreregRegion>();
const NO_MM: SpaprMm = { regions: NO_REGIONS, leakedTablePages: 0n };

/** A region with a reference no container holds: `prereg-region-leaked`. */
export const leaked = (r: PreregRegion | undefined): boolean => r !== undefined && r.used > r.holders.length;

function mmQuirks(world: World, pid: number, was: SpaprMm, now: SpaprMm, out: Quirk[]): void {
  now.regions.changesSince(was.regions, (_, before, after) => {
    if (after === undefined || !leaked(after) || leaked(before)) return;
    const size = after.entries * world.config.pageSize;
    out.push({
      quirk: 'prereg-region-leaked',
      detail: `pid ${pid}: region ${hex(after.ua)}+${hex(size)} stays pinned and charged (${after.entries} pages) with no container holding it, ${after.mapped} TCEs pointing into it`,
    });
  });
  if (now.leakedTablePages > was.leakedTablePages) {
    out.push({
      quirk: 'tce-table-charge-leaked',
      detail: `pid ${pid}: ${now.leakedTablePages - was.leakedTablePages} pages charged for a TCE table that was not made stay charged`,
    });
  }
}

/** TCEs set past the window's last entry that `before` did not have. */
function pastWindow(id: number, slot: number, was: TceTable | null, now: TceTable, out: Quirk[]): void {
  const end = now.offset + now.size;
  const across = now.tces.atOrBelow(end - 1n);
  const runs = [...(across !== undefined && across[1].last >= end ? [across] : []), ...now.tces.entriesFrom(end)];
  for (const [start, run] of runs) {
    if (was?.tces.get(start) === run) continue;
    out.push({
      quirk: 'tce-past-window',
      detail: `container ${id} window ${slot}: TCEs ${hex(run.start)}..${hex(run.last)} lie past its last entry ${hex(end - 1n)}`,
    });
  }
}

function containerQuirks(id: number, was: Container | undefined, now: Container | undefined, out: Quirk[]): void {
  if (now?.driver?.kind !== 'spapr_tce') return;
  const before = was?.driver?.kind === 'spapr_tce' ? was.driver.iommu.tables : [null, null];
  now.driver.iommu.tables.forEach((table, slot) => {
    if (table !== null && table !== before[slot]) pastWindow(id, slot, before[slot] ?? null, table, out);
  });
}

/** The quirks a step brought about, reading only what it changed. */
export function stepQuirks(before: World, after: World): Quirk[] {
  const out: Quirk[] = [];
  after.vfio.spaprMms.changesSince(before.vfio.spaprMms, (pid, was, now) => mmQuirks(after, pid, was ?? NO_MM, now ?? NO_MM, out));
  after.vfio.containers.changesSince(before.vfio.containers, (id, was, now) => containerQuirks(id, was, now, out));
  return out;
}
