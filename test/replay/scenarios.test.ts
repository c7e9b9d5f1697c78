/**
 * Accounting scenarios from the regression list (spec-history §C.4), as traces under
 * test/replay/scenarios: they replay clean with every invariant checked, and the audit's three
 * accountings show what iommufd's shared pages save against type1 and cost against SPAPR.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditFile } from '../../replay/audit.ts';
import { replayFile } from '../../replay/replay-file.ts';

const DIR = resolve(import.meta.dirname, 'scenarios');

describe('accounting scenarios', () => {
  // spapr-kernel-quirks.jsonl: clean too, its three kernel quirks apart (test/replay/kernel-quirks.test.ts).
  it.each(['s2-rlimit-no-partial-charge.jsonl', 's3-copy-vs-second-map.jsonl', 'spapr-kernel-quirks.jsonl'])('%s replays clean with invariants', async (name) => {
    const r = await replayFile(join(DIR, name), { ownChoices: false, invariants: true });
    expect(r.error).toBeUndefined();
    expect(r.diverged).toBe(0);
    expect(r.unsupported).toBe(0);
    expect(r.violations).toEqual([]);
  });

  it('S3: type1 charges the copied memory twice, iommufd once; two maps cost both twice; SPAPR once either way', async () => {
    const a = await auditFile(join(DIR, 's3-copy-vs-second-map.jsonl'), { ownChoices: false });
    const series = (target: string) => a.series.find((s) => s.target === target)?.values ?? [];
    const line = (l: number) => a.lines.lastIndexOf(a.lines.filter((x) => x <= l).pop() ?? 0);
    // After the IOAS_COPY (line 9): iommufd 256 pages, type1 512.
    expect(series('pid 1 VmLck')[line(9)]).toBe(256);
    expect(series('pid 1 accounting iommufd')[line(9)]).toBe(256);
    expect(series('pid 1 accounting type1')[line(9)]).toBe(512);
    expect(series('pid 1 accounting SPAPR')[line(9)]).toBe(256);
    // After the second IOAS_MAP (line 13): iommufd and type1 512, SPAPR still 256.
    expect(series('pid 1 VmLck')[line(13)]).toBe(512);
    expect(series('pid 1 accounting iommufd')[line(13)]).toBe(512);
    expect(series('pid 1 accounting type1')[line(13)]).toBe(512);
    expect(series('pid 1 accounting SPAPR')[line(13)]).toBe(256);
    expect(a.accountings).toEqual({
      actual: ['iommufd'],
      processes: [{ pid: 1, iommufd: { peak: 512, final: 0 }, type1: { peak: 512, final: 0 }, spapr: { peak: 256, final: 0 } }],
      total: { iommufd: { peak: 512, final: 0 }, type1: { peak: 512, final: 0 }, spapr: { peak: 256, final: 0 } },
      preregistered: [],
    });
    expect(a.leaks).toEqual([]);
  });

  it('S2: the failed map charged nothing; the audit sees the peak at the limit', async () => {
    const a = await auditFile(join(DIR, 's2-rlimit-no-partial-charge.jsonl'), { ownChoices: false });
    const uid = a.series.find((s) => s.target === 'uid 1000 locked_vm');
    expect(uid?.peak).toBe(4);
    expect(uid?.values[uid.values.length - 1]).toBe(0);
    expect(a.violations).toEqual([]);
  });
});
