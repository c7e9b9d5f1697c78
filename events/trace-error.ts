/**
 * Malformed input: a trace line that breaks the format. The message is one line,
 * `file:line: reason`, naming the offending key and value.
 */
import { clip } from './quote.ts';

/**
 * The most a reason prints. The reader's own reasons quote at most a few clipped values;
 * this bounds one built from elsewhere (a model's verdict on a header) as well.
 */
const MAX_REASON = 1000;

export class TraceError extends Error {
  override readonly name = 'TraceError';
  /** As given; the message quotes it escaped, so that a name holding a newline stays on one line. */
  readonly file: string;
  /** From 1; the header is line 1. When the file itself fails, the last line read: 0 before the first. */
  readonly line: number;
  readonly reason: string;

  constructor(file: string, line: number, reason: string, options?: ErrorOptions) {
    const oneLine = clip(reason, MAX_REASON);
    super(`${clip(file, Number.POSITIVE_INFINITY)}:${line}: ${oneLine}`, options);
    this.file = file;
    this.line = line;
    this.reason = oneLine;
  }
}
