/**
 * Reading a trace: the header first, then the events one at a time, so that a replay holds one
 * line at a time however long the file is. Every malformed line is a `TraceError`.
 */
import { splitLines } from './line-splitter.ts';
import { TraceError } from './trace-error.ts';
import { isIgnorable, readEventLine, readHeaderLine } from './trace-line.ts';
import type { TraceEvent, TraceHeader } from './types.ts';

/** trace-format.md: "A line longer than 1 MiB is malformed (an option may raise the limit)". */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const NO_HEADER = 'no header: the trace has no line that is not blank or a comment';

export interface OpenTraceOptions {
  /** Bytes a line may hold (newline not counted); default 1 MiB. */
  readonly maxLineBytes?: number;
  /** The file's name in error messages; default the path. */
  readonly file?: string;
}

export interface OpenTrace {
  readonly header: TraceHeader;
  /** The events in file order. Iterate once; stopping early (`break`) closes the file. */
  readonly events: AsyncIterable<TraceEvent>;
  /** Closes the file without reading further; needed only when `events` is not iterated to its end. */
  close(): Promise<void>;
}

/**
 * Opens `path` and reads up to its header, which is its first line that is neither blank nor a
 * comment. Rejects with a `TraceError` when the file has no valid header.
 */
export async function openTrace(path: string, options: OpenTraceOptions = {}): Promise<OpenTrace> {
  const file = options.file ?? path;
  const lines = splitLines(path, { file, maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES });
  let line = 0;
  let header: TraceHeader | undefined;
  try {
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      line++;
      if (isIgnorable(next.value)) continue;
      header = readHeaderLine(next.value, file, line);
      break;
    }
  } catch (e) {
    await lines.return();
    throw e;
  }
  if (header === undefined) throw new TraceError(file, line + 1, NO_HEADER);
  const headerLine = line;
  async function* events(): AsyncGenerator<TraceEvent, void, undefined> {
    let n = headerLine;
    for await (const text of lines) {
      n++;
      if (!isIgnorable(text)) yield readEventLine(text, file, n);
    }
  }
  return {
    header,
    events: events(),
    close: async () => {
      await lines.return();
    },
  };
}

/**
 * A whole trace held in memory (tests, small inputs): the same rules as `openTrace`, except
 * the line length limit, which is there to bound what a stream holds.
 */
export function parseTraceText(text: string, file = '<text>'): { header: TraceHeader; events: TraceEvent[] } {
  const lines = text === '' ? [] : text.split('\n');
  // A final newline ends the last line; it does not start another one.
  if (lines[lines.length - 1] === '') lines.pop();
  let header: TraceHeader | undefined;
  const events: TraceEvent[] = [];
  lines.forEach((content, i) => {
    if (isIgnorable(content)) return;
    if (header === undefined) header = readHeaderLine(content, file, i + 1);
    else events.push(readEventLine(content, file, i + 1));
  });
  if (header === undefined) throw new TraceError(file, lines.length + 1, NO_HEADER);
  return { header, events };
}
