/**
 * Reading a trace: the header first, then the events a batch at a time — one batch for the lines
 * that end in each chunk of the file, each line parsed when its event is taken — so that a replay
 * holds one chunk at a time however long the file is, and waits for the file once a chunk
 * rather than once a line. Every malformed line is a `TraceError`.
 */
import { splitLines } from './line-splitter.ts';
import { TraceError } from './trace-error.ts';
import { isIgnorable, readEventLine, readHeaderLine } from './trace-line.ts';
import type { TraceEvent, TraceHeader } from './types.ts';

/** trace-format.md: "A line longer than 1 MiB is malformed (an option may raise the limit)". */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const NO_HEADER = 'no header: the trace has no line that is not blank or a comment';

export interface OpenTraceOptions {
  /** Bytes a line may hold (its `\n` or `\r\n` not counted); default 1 MiB. */
  readonly maxLineBytes?: number;
  /** The file's name in error messages; default the path. */
  readonly file?: string;
}

export interface OpenTrace {
  readonly header: TraceHeader;
  /**
   * The events in file order, a batch for each chunk of the file read. A batch parses its lines
   * as it is iterated, and throws the `TraceError` of a malformed line once the events before it
   * have been taken. Iterate once, each batch before the next; stopping early (`break`) closes
   * the file.
   */
  readonly batches: AsyncIterable<Iterable<TraceEvent>>;
  /** Closes the file without reading further; needed only when `batches` is not iterated to its end. */
  close(): Promise<void>;
}

/** The index of the first line of `lines` that is neither blank nor a comment, or -1. */
function headerIndex(lines: readonly string[]): number {
  return lines.findIndex((text) => !isIgnorable(text));
}

/** The events of `lines` from index `from`, which is line `line` of the file, each parsed as it is taken. */
function* readEvents(lines: readonly string[], from: number, line: number, file: string): Generator<TraceEvent, void, undefined> {
  for (let i = from; i < lines.length; i++) {
    const text = lines[i] as string;
    if (!isIgnorable(text)) yield readEventLine(text, file, line + i - from);
  }
}

/**
 * Opens `path` and reads up to its header, which is its first line that is neither blank nor a
 * comment. Rejects with a `TraceError` when the file cannot be read or has no valid header,
 * having closed it.
 */
export async function openTrace(path: string, options: OpenTraceOptions = {}): Promise<OpenTrace> {
  const file = options.file ?? path;
  const chunks = splitLines(path, { file, maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES });
  // The lines before the current batch, and the batch that holds the header.
  let before = 0;
  let lines: string[] = [];
  let at = -1;
  let header: TraceHeader;
  try {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      lines = next.value;
      at = headerIndex(lines);
      if (at >= 0) break;
      before += lines.length;
    }
    if (at < 0) throw new TraceError(file, before + 1, NO_HEADER);
    header = readHeaderLine(lines[at] as string, file, before + at + 1);
  } catch (e) {
    await chunks.return();
    throw e;
  }
  async function* batches(): AsyncGenerator<Iterable<TraceEvent>, void, undefined> {
    let line = before + at + 2;
    try {
      yield readEvents(lines, at + 1, line, file);
      line += lines.length - at - 1;
      for await (const more of chunks) {
        yield readEvents(more, 0, line, file);
        line += more.length;
      }
    } finally {
      await chunks.return();
    }
  }
  return {
    header,
    batches: batches(),
    close: async () => {
      await chunks.return();
    },
  };
}

/**
 * A whole trace held in memory (tests, small inputs), already decoded: the same rules as
 * `openTrace`, except the line length limit, which is there to bound what a stream holds, and
 * the check of its encoding, which was the decoder's. A byte order mark opening it is skipped.
 */
export function parseTraceText(text: string, file = '<text>'): { header: TraceHeader; events: TraceEvent[] } {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const lines = body === '' ? [] : body.split('\n');
  // A final newline ends the last line; it does not start another one.
  if (lines[lines.length - 1] === '') lines.pop();
  const at = headerIndex(lines);
  if (at < 0) throw new TraceError(file, lines.length + 1, NO_HEADER);
  const header = readHeaderLine(lines[at] as string, file, at + 1);
  return { header, events: [...readEvents(lines, at + 1, at + 2, file)] };
}
