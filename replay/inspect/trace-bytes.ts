/**
 * A trace's lines read again from a byte offset, to replay the events after a checkpoint without
 * reading the file from its start. The first pass has read every line through the trace reader,
 * which checked its length and encoding; a line read again is only parsed.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { isIgnorable, readEventLine } from '../../events/trace-line.ts';
import type { TraceEvent } from '../../events/types.ts';

const CHUNK_BYTES = 1 << 16;
const NEWLINE = 0x0a;

/** Where a line starts in the file. */
export interface LineStart {
  readonly line: number;
  readonly offset: number;
}

export class TraceBytes {
  constructor(
    private readonly path: string,
    /** The name errors give the file. */
    private readonly file: string,
  ) {}

  /** Every line from `from` on, each with where the next starts; the last may have no newline. */
  private *lines(from: LineStart): Generator<{ readonly text: Buffer; readonly next: LineStart }> {
    const fd = openSync(this.path, 'r');
    try {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      let pending: Buffer = Buffer.alloc(0);
      let { line, offset } = from;
      for (let at = offset; ; ) {
        const read = readSync(fd, chunk, 0, CHUNK_BYTES, at);
        if (read === 0) break;
        at += read;
        let data = pending.length === 0 ? chunk.subarray(0, read) : Buffer.concat([pending, chunk.subarray(0, read)]);
        for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE)) {
          offset += nl + 1;
          line++;
          yield { text: data.subarray(0, nl), next: { line, offset } };
          data = data.subarray(nl + 1);
        }
        // `chunk` is read into again: what is left of it is kept as a copy.
        pending = Buffer.from(data);
      }
      if (pending.length > 0) yield { text: pending, next: { line: line + 1, offset: offset + pending.length } };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Where lines start, asked for in ascending order: one read of the file however many are
   * asked. `close` releases the file before the last line is reached.
   */
  lineStarts(): { startOf(line: number): LineStart; close(): void } {
    const lines = this.lines({ line: 1, offset: 0 });
    let last: LineStart = { line: 1, offset: 0 };
    return {
      startOf: (line: number): LineStart => {
        while (last.line < line) {
          const next = lines.next();
          if (next.done === true) break;
          last = next.value.next;
        }
        if (last.line !== line) throw new Error(`[iommufd-model] ${this.file} has no line ${line}: was it changed while it was read?`);
        return last;
      },
      close: () => void lines.return(undefined),
    };
  }

  /** The line of the header: the first that is neither blank nor a comment. */
  headerLine(): number {
    for (const { text, next } of this.lines({ line: 1, offset: 0 })) {
      const s = text.toString('utf8');
      if (!isIgnorable(next.line === 2 && s.startsWith('\ufeff') ? s.slice(1) : s)) return next.line - 1;
    }
    return 1;
  }

  /** The events from line `from.line` on, each with where the line after it starts. */
  *eventsFrom(from: LineStart): Generator<{ readonly event: TraceEvent; readonly next: LineStart }> {
    for (const { text, next } of this.lines(from)) {
      const s = text.toString('utf8');
      if (!isIgnorable(s)) yield { event: readEventLine(s, this.file, next.line - 1), next };
    }
  }
}
