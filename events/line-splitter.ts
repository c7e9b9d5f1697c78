/**
 * The lines of a file, read a chunk at a time so that memory stays bounded by the chunk and the
 * longest allowed line, not by the file, and so that the wait for the file comes once a chunk,
 * not once a line. A line that grows past the limit is refused while it is still being read,
 * never held whole. Every failure is a `TraceError` naming a line: the line at fault, or, when
 * the file itself cannot be read, the last line read (0 before the first).
 */
import { type FileHandle, open } from 'node:fs/promises';
import { constants } from 'node:buffer';
import { getSystemErrorMap } from 'node:util';
import { TraceError } from './trace-error.ts';
import { decodeLines } from './utf8-lines.ts';

export interface SplitOptions {
  /** The name errors give the file. */
  readonly file: string;
  /** Bytes a line may hold, its line ending (`\n` or `\r\n`) not counted. */
  readonly maxLineBytes: number;
  readonly chunkBytes?: number;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * About a hundred lines of a typical trace: one wait for the file per hundred lines. Four times
 * as much measured no faster, and the replay's memory grew by a fifth (V8 doubled its young
 * generation for the chunk's strings).
 */
const CHUNK_BYTES = 1 << 14;

/**
 * Every line of `path` in order (each `\n`-terminated line, and a last unterminated one), in
 * batches: the lines that end in one chunk of the file. A line over the limit, or not UTF-8,
 * ends the lines with a `TraceError`, once the lines before it have been handed out.
 */
export async function* splitLines(path: string, options: SplitOptions): AsyncGenerator<string[], void, undefined> {
  const { file } = options;
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  // A batch is decoded as one string: the longest line and a chunk of lines after it must fit.
  const maxLineBytes = Math.min(options.maxLineBytes, constants.MAX_STRING_LENGTH - chunkBytes - 1);
  // The lines handed out so far.
  let line = 0;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw cannotRead(file, line, e);
  }
  const chunk = Buffer.allocUnsafe(chunkBytes);
  const readChunk = (): Promise<{ bytesRead: number }> => {
    const read = handle.read(chunk, 0, chunk.length, null);
    // Awaited in turn, or in `finally` when the lines are abandoned: never an unhandled rejection.
    read.catch(() => undefined);
    return read;
  };
  // The next chunk is read while the lines of this one are used.
  let reading: Promise<{ bytesRead: number }> | null = null;
  try {
    reading = readChunk();
    // The start of the current line when it began in an earlier chunk (copies: `chunk` is reused).
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let pendingLast = -1;
    while (reading !== null) {
      const { bytesRead } = await reading;
      reading = null;
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      const last = data.lastIndexOf(NEWLINE);
      // The lines handed out now end before `end`; the first of them begins in `pending`.
      let end = last + 1;
      let error: TraceError | null = null;
      if (pendingBytes + last > maxLineBytes) {
        // Some line of the chunk may be too long: find the first that is.
        let n = line;
        for (let from = 0, nl = data.indexOf(NEWLINE); nl !== -1; from = nl + 1, nl = data.indexOf(NEWLINE, from)) {
          n++;
          const before = nl > from ? data[nl - 1] : from === 0 ? pendingLast : -1;
          if ((from === 0 ? pendingBytes : 0) + nl - from - (before === RETURN ? 1 : 0) > maxLineBytes) {
            error = tooLong(file, n, maxLineBytes);
            end = from;
            break;
          }
        }
      }
      let lines: string[] = [];
      if (end > 0) {
        // One decoding for the whole batch; a character split across chunks sits in `pending`
        // and is decoded whole with the rest of its line.
        const bytes = pendingBytes === 0 ? data.subarray(0, end - 1) : Buffer.concat([...pending, data.subarray(0, end - 1)]);
        const decoded = decodeLines(bytes, file, line);
        lines = decoded.lines;
        error = decoded.error ?? error;
        line += lines.length;
        pending = [];
        pendingBytes = 0;
        pendingLast = -1;
      }
      if (error === null) {
        // The line still being read may end in the `\r` of its `\r\n`.
        const tail = end < bytesRead ? data[bytesRead - 1] : pendingLast;
        if (pendingBytes + bytesRead - end - (tail === RETURN ? 1 : 0) > maxLineBytes) error = tooLong(file, line + 1, maxLineBytes);
      }
      if (error === null) {
        if (end < bytesRead) {
          pending.push(Buffer.from(data.subarray(end)));
          pendingBytes += bytesRead - end;
          pendingLast = data[bytesRead - 1] as number;
        }
        reading = readChunk();
      }
      if (lines.length > 0) yield lines;
      if (error !== null) throw error;
    }
    if (pendingBytes > 0) {
      const decoded = decodeLines(Buffer.concat(pending, pendingBytes), file, line);
      if (decoded.lines.length > 0) yield decoded.lines;
      if (decoded.error !== null) throw decoded.error;
    }
  } catch (e) {
    throw e instanceof TraceError ? e : cannotRead(file, line, e);
  } finally {
    // A read still under way must end before the file is closed.
    await reading?.catch(() => undefined);
    await handle.close();
  }
}

const tooLong = (file: string, line: number, max: number): TraceError =>
  new TraceError(file, line, `line is longer than ${max} bytes`);

/** A failure of the file system, or of the runtime holding what was read, after line `line`. */
function cannotRead(file: string, line: number, e: unknown): TraceError {
  return new TraceError(file, line, `cannot read: ${readFailure(e)}`, { cause: e });
}

/** `ENOENT (no such file or directory)`: the system error without the path, which the message already names. */
function readFailure(e: unknown): string {
  const { code, errno } = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && typeof errno === 'number') {
    const text = getSystemErrorMap().get(errno)?.[1];
    return text === undefined ? code : `${code} (${text})`;
  }
  return e instanceof Error ? e.message : String(e);
}
