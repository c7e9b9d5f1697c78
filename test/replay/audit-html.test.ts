/**
 * The HTML audit in a real browser (Chromium driven by playwright-core): the chart is drawn, in
 * every locale, and text from the trace is shown as text, never run as script, in its own
 * direction.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFile } from '../../replay/audit.ts';
import { renderAuditHtml } from '../../replay/audit-html.ts';
import { launchChromium, noBrowser } from '../browser.ts';
import { traceHeader } from '../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-html-'));
const HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

const trace = [
  traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: [] }] }, { description: HOSTILE }),
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' }, note: HOSTILE },
  { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: 0, length: 'U64_MAX' } },
  { op: 'CLOSE', args: { fd: 3 } },
];

const title = noBrowser ? `audit --html (skipped: ${noBrowser})` : 'audit --html';
if (noBrowser) console.warn(title);

describe.skipIf(noBrowser)(title, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('draws a chart per target and keeps trace text inert', async () => {
    const file = join(dir, 'hostile<script>.jsonl');
    writeFileSync(file, trace.map((l) => JSON.stringify(l)).join('\n'));
    const html = join(dir, 'report.html');
    writeFileSync(html, renderAuditHtml(await auditFile(file, { ownChoices: false })));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${html}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
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

  it('draws under a C locale, and keeps a right-to-left override in the file name to the name', async () => {
    // Chromium started under C.UTF-8 reports a language Intl rejects (`en-US@posix`).
    const cLocale = await launchChromium({ ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    try {
      const name = 'rlo-\u202egnp.jsonl';
      const file = join(dir, name);
      writeFileSync(file, trace.map((l) => JSON.stringify(l)).join('\n'));
      const html = join(dir, 'rlo.html');
      writeFileSync(html, renderAuditHtml(await auditFile(file, { ownChoices: false })));
      const page = await cLocale.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${html}`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
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
