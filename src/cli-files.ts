/** The files the command writes besides its report: checked before use, failures said in a few words. */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { clip } from '../events/quote.ts';

/** A failure in a word: the system error's code (`ENOENT`), else its message cut short. */
export function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : clip(e instanceof Error ? e.message : String(e), 200);
}

/**
 * `mkdir -p`. Node's own `recursive` retries for ever where mkdir keeps failing with ENOENT under
 * a parent that exists (`/proc/x`); here the second ENOENT is the answer.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e: unknown) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
    makeDirectory(dirname(dir));
    mkdirSync(dir);
  }
}

/** Makes `dir` when it is missing; why it cannot be written to, or null when it can. */
export function writableDirectory(dir: string): string | null {
  try {
    makeDirectory(dir);
    if (!statSync(dir).isDirectory()) return `${clip(dir, Infinity)}: not a writable directory (ENOTDIR)`;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return null;
  } catch (e: unknown) {
    return `${clip(dir, Infinity)}: not a writable directory (${errorCode(e)})`;
  }
}
