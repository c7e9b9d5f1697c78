/**
 * The HTML audit in a real browser (Chromium driven by playwright-core): the chart is drawn, in
 * every locale, the three accountings are a table side by side, and text from the trace is shown
 * as text, never run as script, in its own direction.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { auditFile } from '../../replay/audit.ts';
import { renderAuditHtml } from '../../replay/audit-html.ts';
import { launchChromium } from '../browser.ts';
import { HOSTILE, describeInBrowser, openPage } from '../browser-pages.ts';
import { traceHeader } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-html-'));

const trace = [
  traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: [] }] }, { description: HOSTILE }),
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' }, note: HOSTILE },
  { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: 0, length: 'U64_MAX' } },
  { op: 'CLOSE', args: { fd: 3 } },
];

describeInBrowser('audit --html', (browser) => {
  it('draws a chart per target and keeps trace text inert', async () => {
    const file = join(dir, 'hostile<script>.jsonl');
    writeFileSync(file, trace.map((l) => JSON.stringify(l)).join('\n'));
    const html = join(dir, 'report.html');
    writeFileSync(html, renderAuditHtml(await auditFile(file, { ownChoices: false })));
    const { page, errors } = await openPage(browser(), html);
    expect(errors).toEqual([]);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#summary .description').textContent()).toBe(HOSTILE);
    expect(await page.locator('#title').textContent()).toContain('hostile<script>.jsonl');
    const data = JSON.parse((await page.locator('#audit-data').textContent()) ?? '{}');
    const peak = data.series.find((s: { target: string }) => s.target === 'uid 1000 locked_vm').peak;
    expect(peak).toBe(16);
    await page.close();
  });

  it('shows the three accountings side by side, and the kernel quirks apart', async () => {
    const html = join(dir, 'power.html');
    const audit = await auditFile(join(ROOT, 'examples/power-guest.jsonl'), { ownChoices: false });
    writeFileSync(html, renderAuditHtml({ ...audit, quirks: [{ line: 9, seq: 8, op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', quirk: 'prereg-region-leaked', detail: HOSTILE }] }));
    const { page, errors } = await openPage(browser(), html);
    expect(errors).toEqual([]);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    const table = page.locator('#accountings');
    expect(await table.locator('tr').first().locator('th').allTextContents()).toEqual([
      'process',
      'iommufd (yardstick)',
      'VFIO type1 (yardstick)',
      'SPAPR TCE (actual)',
    ]);
    // 64 KiB pages: the RAM and two buffers, each once, for iommufd; every mapping for type1; the RAM once and four TCE tables for SPAPR.
    const row = table.locator('tr', { has: page.locator('th', { hasText: 'pid 1' }) });
    expect(await row.locator('td.peak').allTextContents()).toEqual(['514.13 MiB', '1.00 GiB', '520.25 MiB']);
    expect(await row.locator('td.final').allTextContents()).toEqual(['0 KiB', '0 KiB', '0 KiB']);
    expect(await page.locator('#prereg li').allTextContents()).toEqual(['pid 1: 512.00 MiB pre-registered, charged once, used by up to 4 mappings in 3 windows at once']);
    expect(await page.locator('#quirks li').allTextContents()).toEqual([`line 9 VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: prereg-region-leaked: ${HOSTILE}`]);
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('draws under a C locale, and keeps a right-to-left override in the file name to the name', async () => {
    // Chromium started under C.UTF-8 reports a language Intl rejects (`en-US@posix`).
    const cLocale = await launchChromium({ ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    try {
      const name = 'rlo-\u202egnp.jsonl';
      const file = join(dir, name);
      writeFileSync(file, trace.map((l) => JSON.stringify(l)).join('\n'));
      const html = join(dir, 'rlo.html');
      writeFileSync(html, renderAuditHtml(await auditFile(file, { ownChoices: false })));
      const { page, errors } = await openPage(cLocale, html);
      expect(errors).toEqual([]);
      expect(await page.locator('canvas').count()).toBeGreaterThan(0);
      expect(await page.title()).toBe(`iommufd-model audit: \u2068${file}\u2069`);
      expect(await page.locator('#title').getAttribute('dir')).toBe('auto');
      expect(await page.locator('#title bdi').textContent()).toBe(file);
      await page.close();
    } finally {
      await cLocale.close();
    }
  });
});
