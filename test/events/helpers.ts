import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { TraceError, openTrace, parseTraceText } from '../../events/index.ts';
import type { TraceEvent, TraceHeader } from '../../events/index.ts';
import { DEFAULT_HEADER_LINE as HEADER } from '../fixtures.ts';

export { HEADER };

/** A trace text from its lines. */
export const lines = (...content: string[]): string => `${content.join('\n')}\n`;

/** The one event of a trace made of the default header and `event`. */
export function parseOne(event: string | object): TraceEvent {
  const text = typeof event === 'string' ? event : JSON.stringify(event);
  const { events } = parseTraceText(lines(HEADER, text), 't.jsonl');
  expect(events).toHaveLength(1);
  return events[0] as TraceEvent;
}

export function parseHeaderOnly(header: string | object): TraceHeader {
  return parseTraceText(lines(typeof header === 'string' ? header : JSON.stringify(header)), 't.jsonl').header;
}

const dir = mkdtempSync(join(tmpdir(), 'trace-test-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

export function tempFile(content: string | Buffer): string {
  const path = join(dir, `t${files++}.jsonl`);
  writeFileSync(path, content);
  return path;
}

/** Header and every event of a file, through the streaming reader. */
export async function readFile(path: string, options: { maxLineBytes?: number; file?: string } = {}) {
  const trace = await openTrace(path, options);
  const events: TraceEvent[] = [];
  for await (const batch of trace.batches) for (const event of batch) events.push(event);
  return { header: trace.header, events };
}

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  throw new Error('expected a TraceError, nothing was thrown');
}

function checkError(e: unknown, file: string, line: number, reason: string): void {
  expect(e).toBeInstanceOf(TraceError);
  const error = e as TraceError;
  expect(error.reason).toBe(reason);
  expect(error.line).toBe(line);
  expect(error.file).toBe(file);
  expect(error.message).toBe(`${file}:${line}: ${reason}`);
  expect(error.message).not.toContain('\n');
}

/**
 * `text` is malformed at `line` for `reason`, through both readers: the in-memory one and the
 * streaming one (with a file name of `t.jsonl` in both).
 */
export async function expectMalformed(text: string, line: number, reason: string): Promise<void> {
  checkError(
    caught(() => parseTraceText(text, 't.jsonl')),
    't.jsonl',
    line,
    reason,
  );
  const path = tempFile(text);
  let streamed: unknown;
  try {
    await readFile(path, { file: 't.jsonl' });
  } catch (e) {
    streamed = e;
  }
  checkError(streamed, 't.jsonl', line, reason);
}

/** An event line of the default-header trace is malformed (it is line 2) for `reason`. */
export const expectBadEvent = (event: string | object, reason: string): Promise<void> =>
  expectMalformed(lines(HEADER, typeof event === 'string' ? event : JSON.stringify(event)), 2, reason);

/** A header line is malformed for `reason`. */
export const expectBadHeader = (header: string | object, reason: string): Promise<void> =>
  expectMalformed(lines(typeof header === 'string' ? header : JSON.stringify(header)), 1, reason);
