/**
 * Adding one hold pins only what it newly covers (`addHoldTo()`), and must leave the pages
 * object exactly as re-pinning from every hold (`rehold()`) would: same holds, same pins in the
 * same order, the same copies broken.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fail } from '../../../src/model/fail.ts';
import { addHoldTo, rehold } from '../../../src/iommufd/pages/pinning.ts';
import type { Ctx, Hold, Pages } from '../../../src/model/world.ts';
import { propertySettings } from '../../fc-settings.ts';
import { traceHeader } from '../../fixtures.ts';
import { runTrace } from '../../harness.ts';

const PAGES = 32;
const ran = runTrace(
  [
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000000000', length: `0x${(PAGES * 4096).toString(16)}`, iova: '0x1000000' } },
  ],
  traceHeader({ memory: 'any' }),
);
const world = ran[ran.length - 1]?.outcome.world;
if (world === undefined) throw new Error('the setup trace did not run');
const ctx = [...world.contexts.values()][0] as Ctx;
const unheld = [...ctx.pages.values()][0] as Pages;

const hold = fc
  .tuple(fc.integer({ min: 0, max: PAGES - 1 }), fc.integer({ min: 0, max: 8 }))
  .map(([first, more]): [bigint, bigint] => [BigInt(first), BigInt(Math.min(first + more, PAGES - 1))]);

describe('addHoldTo', () => {
  it('gives what rehold() gives from every hold, hold after hold', () => {
    fc.assert(
      fc.property(fc.array(hold, { maxLength: 12 }), (ranges) => {
        let pages = unheld;
        const holds: Hold[] = [];
        for (const [i, [first, last]] of ranges.entries()) {
          const h: Hold = { key: `h${i}`, first, last };
          holds.push(h);
          const added = addHoldTo(world, ctx, pages, h);
          const rebuilt = rehold(world, ctx, pages, holds);
          if (added instanceof Fail || rebuilt instanceof Fail) throw new Error('pinning declared memory failed');
          expect(added.pages.pins.length).toBeGreaterThan(0);
          expect(added.pages.holds).toEqual(rebuilt.pages.holds);
          expect(added.pages.pins).toEqual(rebuilt.pages.pins);
          expect(added.breaks).toEqual(rebuilt.breaks);
          pages = added.pages;
        }
      }),
      propertySettings(200),
    );
  });
});
