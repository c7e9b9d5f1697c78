/**
 * The Chromium that browser tests drive: Debian's when it is installed, else the Linux x64 build
 * shipped inside the @sparticuz/chromium npm package, so `npm ci` is all a machine needs.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** Why no browser can be had on this machine, or undefined when one can. */
export const noBrowser: string | undefined =
  existsSync(SYSTEM_CHROMIUM) || (process.platform === 'linux' && process.arch === 'x64')
    ? undefined
    : `needs ${SYSTEM_CHROMIUM} or Linux x64 (the only platform @sparticuz/chromium ships a build for), ` +
      `not ${process.platform} ${process.arch}`;

// Playwright adds --headless and --no-sandbox (which root needs). The network is closed: without
// the first four Chromium dials Google's hosts at every start. The page needs only a 2D canvas,
// which Chromium draws in software without a GPU process.
const ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
];

/** A Chromium; `env` replaces the environment it starts in (its locale comes from there). */
export async function launchChromium(env: NodeJS.ProcessEnv = process.env): Promise<Browser> {
  const executablePath = existsSync(SYSTEM_CHROMIUM) ? SYSTEM_CHROMIUM : await packagedChromium();
  return chromium.launch({ executablePath, args: ARGS, env });
}

/**
 * The package unpacks into os.tmpdir() and reuses any `chromium` it finds there, whatever its
 * version, so it is pointed at a folder of this version's own under node_modules/.cache. The
 * folder is unpacked beside it and renamed into place, so it only exists once complete.
 */
async function packagedChromium(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const root = join(dirname(entry), '..', '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const cache = join(root, '..', '..', '.cache');
  const dir = join(cache, `sparticuz-chromium-${version}`);
  const executable = join(dir, 'chromium');
  if (existsSync(dir)) return executable;
  mkdirSync(cache, { recursive: true });
  const staging = mkdtempSync(`${dir}.partial-`);
  const { default: Chromium } = await import('@sparticuz/chromium');
  const tmpdir = process.env['TMPDIR'];
  process.env['TMPDIR'] = staging;
  try {
    await Chromium.executablePath();
    renameSync(staging, dir);
  } catch (e) {
    // Losing the rename to another test process leaves its complete copy in place.
    if (!existsSync(dir)) throw e;
  } finally {
    if (tmpdir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = tmpdir;
    rmSync(staging, { recursive: true, force: true });
  }
  return executable;
}
