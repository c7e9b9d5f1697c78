/**
 * Pages a kernel quirk leaves charged for good (src/invariants/quirks.ts): a pre-registered
 * region no container holds (`prereg-region-leaked`) and a TCE table's charge PowerNV refused
 * (`tce-table-charge-leaked`) stay on the mm's locked_vm after everything is closed, as they do
 * in the kernel. The audit reports them as left by their quirk, apart from the model's leaks.
 */
import { leaked } from '../src/invariants/quirks.ts';
import type { World } from '../src/model/world.ts';
import { preregTarget } from './audit-vfio.ts';
import { lockedTarget } from './audit-targets.ts';

export interface QuirkCharge {
  readonly target: string;
  readonly quirk: string;
  readonly pages: number;
}

/** What the quirks leave charged in `world`, per target that shows it: the process's VmLck and its pre-registered locked_vm. */
export function quirkCharges(world: World): QuirkCharge[] {
  const out: QuirkCharge[] = [];
  for (const [pid, mm] of world.vfio.spaprMms) {
    let regions = 0n;
    for (const region of mm.regions.values()) if (leaked(region)) regions += region.entries;
    const left: [string, bigint][] = [['prereg-region-leaked', regions], ['tce-table-charge-leaked', mm.leakedTablePages]];
    for (const [quirk, pages] of left) {
      if (pages === 0n) continue;
      for (const target of [lockedTarget(pid), preregTarget(pid)]) out.push({ target, quirk, pages: Number(pages) });
    }
  }
  return out;
}

/** Splits what stays charged into what the quirks explain (as much as each target holds) and the leaks they do not. */
export function splitLeaks(remaining: readonly { target: string; pages: number }[], charges: readonly QuirkCharge[]): { leaks: { target: string; pages: number }[]; leftByQuirks: QuirkCharge[] } {
  const leaks: { target: string; pages: number }[] = [];
  const leftByQuirks: QuirkCharge[] = [];
  for (const { target, pages } of remaining) {
    let rest = pages;
    for (const c of charges) {
      if (c.target !== target || rest === 0) continue;
      const n = Math.min(c.pages, rest);
      leftByQuirks.push({ ...c, pages: n });
      rest -= n;
    }
    if (rest > 0) leaks.push({ target, pages: rest });
  }
  return { leaks, leftByQuirks };
}
