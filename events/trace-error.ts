/**
 * Malformed input: a trace line that breaks the format. The message is one line,
 * `file:line: reason`, naming the offending key and value.
 */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  readonly file: string;
  /** From 1; the header is line 1. */
  readonly line: number;
  readonly reason: string;

  constructor(file: string, line: number, reason: string, options?: ErrorOptions) {
    const oneLine = escapeLineBreaks(reason);
    super(`${file}:${line}: ${oneLine}`, options);
    this.file = file;
    this.line = line;
    this.reason = oneLine;
  }
}

/** Keys quoted from the trace may hold any character; a report line must not break. */
const escapeLineBreaks = (text: string): string =>
  text.replace(/[\u0000-\u001f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
