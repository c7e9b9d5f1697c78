/**
 * Bytes of a trace as lines of text. A trace is UTF-8: bytes that are not would otherwise
 * decode silently to U+FFFD and change what a line says. A UTF-8 byte order mark opening the
 * file is not part of its first line.
 */
import { isUtf8 } from 'node:buffer';
import { TraceError } from './trace-error.ts';

const NEWLINE = 0x0a;
const BOM = '\ufeff';

export interface DecodedLines {
  /** The lines decoded, up to the first that is not UTF-8. */
  readonly lines: string[];
  /** Why the lines stop short, or null. */
  readonly error: TraceError | null;
}

/**
 * `bytes`, whole lines joined by `\n` (the last without its own), as strings; the lines of the
 * file before them number `before`.
 */
export function decodeLines(bytes: Buffer, file: string, before: number): DecodedLines {
  if (isUtf8(bytes)) return { lines: withoutBom(bytes.toString('utf8').split('\n'), before), error: null };
  // A newline is never part of a multi-byte character, so the culprit is a line of its own.
  const lines: string[] = [];
  for (let from = 0; from <= bytes.length; ) {
    const nl = bytes.indexOf(NEWLINE, from);
    const to = nl === -1 ? bytes.length : nl;
    const text = bytes.subarray(from, to);
    if (!isUtf8(text)) {
      const error = new TraceError(file, before + lines.length + 1, `invalid UTF-8 at byte ${firstInvalid(text)}`);
      return { lines: withoutBom(lines, before), error };
    }
    lines.push(text.toString('utf8'));
    from = to + 1;
  }
  return { lines: withoutBom(lines, before), error: null };
}

function withoutBom(lines: string[], before: number): string[] {
  const first = lines[0];
  if (before === 0 && first !== undefined && first.startsWith(BOM)) lines[0] = first.slice(BOM.length);
  return lines;
}

/** Where `bytes` stop being UTF-8: a valid prefix decodes and encodes back to itself, the rest not. */
function firstInvalid(bytes: Buffer): number {
  const again = Buffer.from(bytes.toString('utf8'), 'utf8');
  let i = 0;
  while (i < bytes.length && bytes[i] === again[i]) i++;
  return i;
}
