/**
 * What the tests of the HTML pages (`audit --html`, `inspect --html`) share: one Chromium per
 * suite, skipped with a warning where none can run, a page opened once its script has drawn it,
 * and text that would run as script if a page ever placed trace text as markup.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe } from 'vitest';
import { launchChromium, noBrowser } from './browser.ts';

/** Ends a <script>, starts another and sets an inline handler: each sets `window.__pwned` if it runs. */
export const HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

/** A suite of tests in Chromium; `browser()` is the one launched for it. */
export function describeInBrowser(name: string, tests: (browser: () => Browser) => void): void {
  const title = noBrowser ? `${name} (skipped: ${noBrowser})` : name;
  if (noBrowser) console.warn(title);
  describe.skipIf(noBrowser)(title, () => {
    let browser: Browser | undefined;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });
    tests(() => {
      if (browser === undefined) throw new Error('the browser did not start');
      return browser;
    });
  });
}

/** Opens the page written at `html` in `browser` and waits until it is drawn; the errors it threw are collected. */
export async function openPage(browser: Browser, html: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${html}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  return { page, errors };
}
