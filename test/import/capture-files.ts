/** Captures written inline by the importer tests, each to a file of its own, and imported. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { formatEvent } from '../../events/index.ts';
import { type CaptureFormat, type ImportOptions, importCapture } from '../../replay/import/import.ts';

const dir = mkdtempSync(join(tmpdir(), 'capture-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A capture file named `name` (default: a fresh one) holding `lines`. */
export function captureFile(lines: readonly string[], name = `capture-${++files}.txt`): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** A capture imported: its header, its events as the writer writes them, and its unread lines. */
export function imported(format: CaptureFormat, lines: readonly string[], options: ImportOptions = {}, name?: string) {
  const { trace, issues } = importCapture(format, captureFile(lines, name), options);
  return { header: trace.header, trace, events: trace.events.map((e) => JSON.parse(formatEvent(e)) as Record<string, unknown>), issues };
}

/** What the message of `f`'s error is. */
export function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}
