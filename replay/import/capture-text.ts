/**
 * A capture's lines, numbered from 1 as the file numbers them. Logs and strace output have no
 * comment syntax of their own; a `#` line at the top of one is a note someone added (the
 * vendored captures' provenance line, test/captures/README.md), and is skipped.
 */
import { readFileSync } from 'node:fs';
import { ImportError } from './import-error.ts';

export interface CaptureLine {
  /** From 1, as in the file. */
  readonly line: number;
  readonly text: string;
}

export function readCapture(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e: unknown) {
    const code = (e as { code?: unknown }).code;
    throw new ImportError(`${path}: cannot read: ${typeof code === 'string' ? code : String(e)}`);
  }
}

/** The lines of `text`, leading `#` lines left out. */
export function captureLines(text: string): CaptureLine[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let first = 0;
  while (first < lines.length && (lines[first] as string).startsWith('#')) first++;
  return lines.slice(first).map((t, i) => ({ line: first + i + 1, text: t }));
}
