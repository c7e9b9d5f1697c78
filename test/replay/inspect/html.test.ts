/**
 * `inspect --html` in a real browser (as the audit's page): selecting an event shows that
 * event's state; the state the page rebuilds from its patches is the state `inspect --json`
 * shows, at every event; text from the trace stays text; a longer trace is covered a stretch
 * at a time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { MAX_PAGE_EVENTS, pageData, renderInspectHtml } from '../../../replay/inspect/html.ts';
import { stateView } from '../../../replay/inspect/state-view.ts';
import { Timeline, type TimelineOptions } from '../../../replay/inspect/timeline.ts';
import { importText } from '../../../replay/import/command.ts';
import { HOSTILE, describeInBrowser, openPage } from '../../browser-pages.ts';
import { conformanceTraces } from '../../conformance/corpus.ts';
import { traceHeader } from '../../fixtures.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const pages = mkdtempSync(join(tmpdir(), 'iommufd-model-inspect-html-'));

async function open(browser: Browser, file: string, at: { line: number } | null = null, options: TimelineOptions = { ownChoices: false }): Promise<{ page: Page; errors: string[] }> {
  const html = join(pages, `${basename(file)}.html`);
  writeFileSync(html, renderInspectHtml(await pageData(file, at, options)));
  return openPage(browser, html);
}

describeInBrowser('inspect --html', (browser) => {
  it('selecting an event shows its state; trace text stays text', async () => {
    const [header, ...events] = TWO_CONTEXTS;
    const lines = [{ ...(header as object), description: HOSTILE }, ...events.map((e) => (typeof e === 'string' ? e : { ...e, note: HOSTILE }))];
    const file = writeTrace('hostile<script>.jsonl', lines);
    const { page, errors } = await open(browser(), file);
    expect(errors).toEqual([]);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('#description').textContent()).toBe(HOSTILE);
    expect(await page.locator('#title bdi').textContent()).toBe(file);
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#current').textContent()).toBe('before the first event');
    await page.locator('#events li[data-line="6"]').click();
    expect(await page.locator('#current').textContent()).toBe('after line 6 seq 4 IOAS_MAP (ran)');
    expect(await page.locator('#tree').textContent()).toContain('area 0x1000000..0x100ffff');
    expect(await page.locator('#tree').textContent()).toContain('pinned_pages: 16');
    await page.locator('#events li[data-line="9"]').click();
    expect(await page.locator('#current').textContent()).toBe('after line 9 seq 7 IOAS_UNMAP (ran)');
    expect(await page.locator('#tree').textContent()).not.toContain('area 0x1000000..0x100ffff');
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('#current').textContent()).toBe('after line 8 seq 6 IOAS_ALLOC (ran)');
    await page.close();
  });

  it('names the capture line of an imported event, and the trace as it is given', async () => {
    const capture = resolve(import.meta.dirname, '../../captures/qemu-log.qemu-devel-clg-uefi-ioas-map-einval-20231117.txt');
    const file = join(pages, 'imported.jsonl');
    writeFileSync(file, importText('qemu', capture, {}).text);
    const { page, errors } = await open(browser(), file, { line: 5 }, { ownChoices: false, name: `${capture} (imported)` });
    expect(errors).toEqual([]);
    expect(await page.locator('#title bdi').textContent()).toBe(`${capture} (imported)`);
    expect(await page.locator('#current').textContent()).toBe('after line 5 (capture line 6) IOAS_MAP (diverged)');
    expect(await page.locator('#events li[data-line="4"]').textContent()).toBe('line 4 (capture line 2) IOAS_MAP diverged');
    await page.close();
  });

  it('rebuilds from its patches the state inspect --json shows, at every event', async () => {
    const files = [
      ...conformanceTraces().filter((f) => /vfio_compat_mock_domain\.Ver1v2\.map|mock_domain\.access_pin\.|change_process\.account_mm|iommufd\.default\.cmd_length|two_domains_hugepage\.user_copy|one_domain_file\.basic/.test(f)),
      join(import.meta.dirname, '../../../examples/vm-boot-hotplug.jsonl'),
    ];
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const { page, errors } = await open(browser(), file);
      const timeline = await Timeline.open(file, { ownChoices: false });
      await timeline.finish();
      const n = Math.min(timeline.reached.ordinal, MAX_PAGE_EVENTS);
      const shown = JSON.parse(await page.evaluate(`JSON.stringify(Array.from({ length: ${n + 1} }, (_, i) => stateAt(i)))`)) as unknown[];
      for (let i = 0; i <= n; i++) expect(shown[i], `${file} event ${i}`).toEqual(JSON.parse(JSON.stringify(stateView((await timeline.at(i)).world))));
      await timeline.close();
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it('covers a longer trace a stretch at a time, opening at --at', async () => {
    const map = (i: number) => ({ op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x1000', iova: `0x${(0x100000 + (i % 64) * 0x1000).toString(16)}` } });
    const unmap = (i: number) => ({ op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: `0x${(0x100000 + (i % 64) * 0x1000).toString(16)}`, length: '0x1000' } });
    const lines: object[] = [traceHeader({ memory: 'any' }), { op: 'OPEN' }, { op: 'IOAS_ALLOC' }];
    for (let i = 0; lines.length < 2 * MAX_PAGE_EVENTS + 2000; i++) lines.push(map(i), unmap(i));
    const file = writeTrace('long.jsonl', lines);
    const data = await pageData(file, { line: 6001 }, { ownChoices: false });
    expect(data.events.length).toBe(MAX_PAGE_EVENTS + 1);
    expect(data.before).toBe(6000 - MAX_PAGE_EVENTS / 2);
    expect(data.before + data.events.length - 1 + data.after).toBe(lines.length - 1);
    expect(data.events[data.selected]?.line).toBe(6001);
  });
});
