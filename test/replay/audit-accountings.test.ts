/**
 * The audit's three accountings of one workload, in figures: native type1 charges each
 * container's mapping of the same memory again; type1's yardstick for an iommufd workload is
 * what the native driver's charging gives (an emulated device's pins once per mapping and
 * IOVA); SPAPR TCE pre-registration charges a POWER guest's RAM once, however many windows and
 * mappings use it; kernel quirks are listed apart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AuditReport, auditExitCode, auditFile } from '../../replay/audit.ts';
import { renderAuditHtml } from '../../replay/audit-html.ts';
import { splitLeaks } from '../../replay/audit-quirk-charges.ts';
import { formatAuditText } from '../../replay/audit-text.ts';
import { traceHeader } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-accountings-'));

/** Each target's value after the event on `line` (the last sample at or before it). */
const at = (a: AuditReport, target: string, line: number): number => {
  const i = a.lines.findLastIndex((l) => l <= line);
  return a.series.find((s) => s.target === target)?.values[i] ?? 0;
};

describe('the audit\'s three accountings', () => {
  it('native type1: two containers mapping the same memory charge it twice; iommufd would share it, SPAPR pre-register it once', async () => {
    const a = await auditFile(join(ROOT, 'test/vfio/scenarios/double-charge.jsonl'), { ownChoices: false });
    expect(a.replay.diverged).toBe(0);
    // Line 13 (seq 12): 512 pages mapped by each container.
    expect(at(a, 'container 1 type1 locked_vm (pid 1)', 13)).toBe(512);
    expect(at(a, 'container 2 type1 locked_vm (pid 1)', 13)).toBe(512);
    expect(at(a, 'pid 1 VmLck', 13)).toBe(1024);
    expect(at(a, 'pid 1 accounting type1', 13)).toBe(1024);
    expect(at(a, 'pid 1 accounting iommufd', 13)).toBe(512);
    expect(at(a, 'pid 1 accounting SPAPR', 13)).toBe(512);
    expect(a.accountings).toEqual({
      actual: ['type1'],
      processes: [{ pid: 1, iommufd: { peak: 512, final: 0 }, type1: { peak: 1024, final: 0 }, spapr: { peak: 512, final: 0 } }],
      total: { iommufd: { peak: 512, final: 0 }, type1: { peak: 1024, final: 0 }, spapr: { peak: 512, final: 0 } },
      preregistered: [],
    });
    expect(a.leaks).toEqual([]);
  });

  it('iommufd without a domain: type1 charges what emulated devices pin, each page of a mapping once however many pin it', async () => {
    const file = join(dir, 'access.jsonl');
    const lines = [
      traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: ['CAP_IPC_LOCK'] }] }),
      { op: 'OPEN', expect: { out: { fd: 3 } } },
      { op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 1 } } },
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' }, expect: {} },
      { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 1 }, expect: { out: { out_access_fd: 4 } } },
      // Pages 0-1, then 1-2 of the mapping: three pages pinned.
      { op: 'TEST_ACCESS_PAGES', args: { id: 4, flags: 0, iova: '0x1000000', length: '0x2000', uptr: '0x7f0000000000' }, expect: { out: { out_access_pages_id: 0 } } },
      { op: 'TEST_ACCESS_PAGES', args: { id: 4, flags: 0, iova: '0x1001000', length: '0x2000', uptr: '0x7f0000001000' }, expect: { out: { out_access_pages_id: 1 } } },
      { op: 'TEST_MOCK_DOMAIN', args: { id: 1 }, expect: {} },
      { op: 'CLOSE', args: { fd: 4 }, expect: {} },
      { op: 'CLOSE', args: { fd: 3 }, expect: {} },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const a = await auditFile(file, { ownChoices: false });
    expect(a.replay.diverged).toBe(0);
    // No domain: nothing at map time.
    expect(at(a, 'pid 1 accounting type1', 4)).toBe(0);
    expect(at(a, 'pid 1 accounting type1', 6)).toBe(2);
    expect(at(a, 'pid 1 accounting type1', 7)).toBe(3);
    // A domain: the whole mapping, pinned at map time.
    expect(at(a, 'pid 1 accounting type1', 8)).toBe(16);
    // CAP_IPC_LOCK: iommufd charges no locked_vm, type1 charges it all the same (the capability lifts only the limit).
    expect(at(a, 'uid 1000 locked_vm', 8)).toBe(0);
    expect(at(a, 'pid 1 VmPin', 8)).toBe(16);
    expect(a.accountings.processes).toEqual([{ pid: 1, iommufd: { peak: 16, final: 0 }, type1: { peak: 16, final: 0 }, spapr: { peak: 16, final: 0 } }]);
  });

  it('the POWER guest: pre-registration charges the RAM once for every window and mapping; type1 would charge each mapping', async () => {
    const a = await auditFile(join(ROOT, 'examples/power-guest.jsonl'), { ownChoices: false });
    expect(a.replay.diverged).toBe(0);
    expect(a.violations).toEqual([]);
    // 512 MiB of RAM in 64 KiB pages: 8192 pages, pre-registered by both containers, charged once.
    expect(a.series.find((s) => s.target === 'pid 1 SPAPR pre-registered locked_vm')?.peak).toBe(8192);
    // Each container's two windows: 4 MiB and 128 KiB of TCE tables.
    expect(a.series.find((s) => s.target === 'container 1 SPAPR TCE locked_vm (pid 1)')?.peak).toBe(66);
    expect(a.series.find((s) => s.target === 'container 2 SPAPR TCE locked_vm (pid 1)')?.peak).toBe(66);
    // Line 32: both containers map the RAM through their 64-bit windows, the first two buffers
    // through its 32-bit window (64 KiB at 0x...1000, which spans two pages, and 2 MiB).
    expect(at(a, 'pid 1 accounting SPAPR', 32)).toBe(8192 + 66 + 66);
    expect(at(a, 'pid 1 accounting type1', 32)).toBe(8192 + 2 + 32 + 8192);
    expect(at(a, 'pid 1 accounting iommufd', 32)).toBe(8192 + 2 + 32);
    expect(a.accountings).toEqual({
      actual: ['spapr'],
      processes: [{ pid: 1, iommufd: { peak: 8226, final: 0 }, type1: { peak: 16418, final: 0 }, spapr: { peak: 8324, final: 0 } }],
      total: { iommufd: { peak: 8226, final: 0 }, type1: { peak: 16418, final: 0 }, spapr: { peak: 8324, final: 0 } },
      preregistered: [{ pid: 1, pages: 8192, mappings: 4, windows: 3 }],
    });
    const text = formatAuditText(a);
    expect(text).toMatch(/iommufd \(yardstick\) +VFIO type1 \(yardstick\) +SPAPR TCE \(actual\)/);
    expect(text).toMatch(/pid 1 +8226 \/ 0 +16418 \/ 0 +8324 \/ 0/);
    expect(text).toContain('SPAPR pre-registration, pid 1: 8192 pages charged once, used by up to 4 mappings in 3 windows at once');
  });

  it('lists kernel quirks under their own heading; the region the quirk leaves charged is left by it, not a leak, and exits 0', async () => {
    const a = await auditFile(join(ROOT, 'test/vfio/spapr-scenarios/spapr-unregister-quirk.jsonl'), { ownChoices: false });
    expect(a.violations).toEqual([]);
    expect(a.quirks).toEqual([expect.objectContaining({ line: 9, op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', quirk: 'prereg-region-leaked' })]);
    expect(a.leaks).toEqual([]);
    expect(a.leftByQuirks).toEqual([
      { target: 'pid 1 VmLck', quirk: 'prereg-region-leaked', pages: 1024 },
      { target: 'pid 1 SPAPR pre-registered locked_vm', quirk: 'prereg-region-leaked', pages: 1024 },
    ]);
    expect(auditExitCode([a])).toBe(0);
    const text = formatAuditText(a);
    expect(text).toMatch(/kernel quirks \(the kernel does this too; not a failure\): 1\n +line 9 VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: prereg-region-leaked: /);
    expect(text).toContain('  leaks: none\n  left charged by kernel quirks (the kernel leaves them too; not a leak): pid 1 VmLck 1024 (prereg-region-leaked), pid 1 SPAPR pre-registered locked_vm 1024 (prereg-region-leaked)');
    expect(text).not.toContain('still charged at the end');
    expect(JSON.parse(JSON.stringify(a, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))).leftByQuirks).toHaveLength(2);
    expect(renderAuditHtml(a)).toContain('"leftByQuirks":[{"target":"pid 1 VmLck","quirk":"prereg-region-leaked","pages":1024}');
  });

  it('each quirk answers for its own pages: a failed CREATE\'s table charge and a leaked region, both left, none a leak', async () => {
    const a = await auditFile(join(ROOT, 'test/replay/scenarios/spapr-kernel-quirks.jsonl'), { ownChoices: false });
    expect(a.remaining).toEqual([
      { target: 'pid 1 VmLck', pages: 1032 },
      { target: 'pid 1 SPAPR pre-registered locked_vm', pages: 1032 },
    ]);
    expect(a.leaks).toEqual([]);
    expect(a.leftByQuirks).toEqual([
      { target: 'pid 1 VmLck', quirk: 'prereg-region-leaked', pages: 1024 },
      { target: 'pid 1 VmLck', quirk: 'tce-table-charge-leaked', pages: 8 },
      { target: 'pid 1 SPAPR pre-registered locked_vm', quirk: 'prereg-region-leaked', pages: 1024 },
      { target: 'pid 1 SPAPR pre-registered locked_vm', quirk: 'tce-table-charge-leaked', pages: 8 },
    ]);
    expect(auditExitCode([a])).toBe(0);
  });

  it('pages beyond what the quirks explain are still a leak, and fail the audit', async () => {
    const a = await auditFile(join(ROOT, 'test/vfio/spapr-scenarios/spapr-unregister-quirk.jsonl'), { ownChoices: false });
    const more = a.remaining.map((r) => (r.target === 'pid 1 VmLck' ? { ...r, pages: r.pages + 5 } : r));
    const split = splitLeaks(more, a.leftByQuirks);
    expect(split.leaks).toEqual([{ target: 'pid 1 VmLck', pages: 5 }]);
    expect(split.leftByQuirks).toEqual(a.leftByQuirks);
    expect(auditExitCode([{ ...a, ...split }])).toBe(1);
  });
});
