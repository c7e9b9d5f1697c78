/** One generated input: what to write, under which name, and how it was made. */

export interface HostileFile {
  /** Its number in the campaign: seed and index make it again. */
  readonly index: number;
  readonly family: string;
  /** What was done, in a few words: `IOAS_MAP args.length = "U64_MAX"`. */
  readonly what: string;
  /** The file's name in its directory; it may hold a line break or a bidi control. */
  readonly name: string;
  /** The bytes, or a path that names no file, or a directory. */
  readonly content: Buffer | 'missing' | 'directory';
  /** The `--max-line-bytes` it is read with, when not the default. */
  readonly maxLineBytes?: number;
}

/** What a family makes; the generator names and numbers it. */
export type Made = Pick<HostileFile, 'what' | 'content'> & { readonly maxLineBytes?: number };

/** Lines as a file, each ended by `eol`. */
export const fileOf = (lines: readonly string[], eol = '\n'): Buffer => Buffer.from(lines.map((line) => `${line}${eol}`).join(''));

/** A short, one-line, printable form of a value's text for `what`. */
export function brief(text: string, max = 60): string {
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text).slice(1, -1);
  return shown.replace(/[\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The number of lines of a file: its line breaks, and one more for an unended last line. */
export function lineCount(content: HostileFile['content']): number {
  if (typeof content === 'string') return 0;
  let lines = 0;
  for (let at = content.indexOf(0x0a); at !== -1; at = content.indexOf(0x0a, at + 1)) lines++;
  return content.length > 0 && content[content.length - 1] !== 0x0a ? lines + 1 : lines;
}
