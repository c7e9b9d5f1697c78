/**
 * The audit's page coverage (SPAPR's once-per-mm yardstick): what `add` and `remove` report is
 * the change in pages covered by any range, as a page-by-page count says, and removing every
 * range again leaves no run behind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Coverage } from '../../replay/audit-coverage.ts';
import { propertySettings } from '../fc-settings.ts';

const range = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 12 })).map(([first, n]) => [BigInt(first), BigInt(first + n)] as const);

describe('Coverage', () => {
  it('counts each page once however many ranges cover it, and forgets ranges removed', () => {
    fc.assert(
      fc.property(fc.array(range, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 30 }), (ranges, order) => {
        const coverage = new Coverage();
        const counts = new Map<bigint, number>();
        let covered = 0n;
        const step = ([first, last]: readonly [bigint, bigint], delta: 1 | -1) => {
          let changed = 0n;
          for (let p = first; p <= last; p++) {
            const n = (counts.get(p) ?? 0) + delta;
            if (n === 0 || (n === 1 && delta > 0)) changed++;
            counts.set(p, n);
          }
          const reported = delta > 0 ? coverage.add(first, last) : coverage.remove(first, last);
          expect(reported).toBe(changed);
          covered += delta > 0 ? changed : -changed;
        };
        for (const r of ranges) step(r, 1);
        expect(covered).toBe(BigInt([...counts.values()].filter((n) => n > 0).length));
        // Removed in an order of their own.
        const left = [...ranges];
        for (const k of order) {
          if (left.length === 0) break;
          step(left.splice(k % left.length, 1)[0] as readonly [bigint, bigint], -1);
        }
        for (const r of left) step(r, -1);
        expect(covered).toBe(0n);
        expect(coverage.empty).toBe(true);
      }),
      propertySettings(300),
    );
  });
});
