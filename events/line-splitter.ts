/**
 * The lines of a file, read in fixed-size chunks so that memory stays bounded by the longest
 * allowed line, not by the file. A line that grows past the limit is refused while it is still
 * being read, never held whole.
 */
import { open } from 'node:fs/promises';
import { TraceError } from './trace-error.ts';

export interface SplitOptions {
  /** The name errors give the file. */
  readonly file: string;
  /** Bytes a line may hold, its newline not counted. */
  readonly maxLineBytes: number;
  readonly chunkBytes?: number;
}

const NEWLINE = 0x0a;

/** Every line of `path` in order (each `\n`-terminated line, and a last unterminated one). */
export async function* splitLines(path: string, options: SplitOptions): AsyncGenerator<string, void, undefined> {
  const { file, maxLineBytes } = options;
  const handle = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(options.chunkBytes ?? 1 << 16);
    // The start of the current line when it began in an earlier chunk (copies: `chunk` is reused).
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let line = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        line++;
        if (pendingBytes + nl - start > maxLineBytes) throw tooLong(file, line, maxLineBytes);
        if (pendingBytes === 0) {
          yield data.toString('utf8', start, nl);
        } else {
          pending.push(data.subarray(start, nl));
          // Decode only now, so that a character split across chunks stays whole.
          yield Buffer.concat(pending, pendingBytes + nl - start).toString('utf8');
          pending = [];
          pendingBytes = 0;
        }
        start = nl + 1;
      }
      if (start < bytesRead) {
        if (pendingBytes + bytesRead - start > maxLineBytes) throw tooLong(file, line + 1, maxLineBytes);
        pending.push(Buffer.from(data.subarray(start)));
        pendingBytes += bytesRead - start;
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes).toString('utf8');
  } finally {
    await handle.close();
  }
}

const tooLong = (file: string, line: number, max: number): TraceError =>
  new TraceError(file, line, `line is longer than ${max} bytes`);
