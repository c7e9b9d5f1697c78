/**
 * A real trace's bytes, changed where the encoding is at stake: bytes that are not UTF-8
 * (truncated, overlong, encoded surrogates, past U+10FFFF), a byte order mark where it may and
 * may not be, CRLF and lone CR line ends, NUL bytes, escapes of NUL, lone surrogates, line
 * separators and bidi controls, the same characters raw, and the file cut anywhere.
 */
import type { Bases } from '../bases.ts';
import type { Made } from '../hostile-file.ts';
import type { Rng } from '../rng.ts';

const NOT_UTF8: readonly (readonly number[])[] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf],
  [0xf0, 0x80, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

const ESCAPES = ['\\u0000', '\\ud800', '\\udfff', '\\udc00\\ud800', '\\u2028', '\\u202e', '\\ufeff', '\\u0085', '\\n', '\\u001b[2J'];
const RAW = ['\u2028', '\u2029', '\u202e', '\u0085', '\ufeff', '\u{1f600}', '\u00e9', '\u200f', '\u001b'];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const MUTATIONS = [
  'not UTF-8 in a string',
  'not UTF-8 at a line start',
  'not UTF-8 in a comment',
  'not UTF-8 ending the file',
  'BOM',
  'BOM twice',
  'BOM on a later line',
  'BOM then a blank line',
  'CRLF',
  'lone CR',
  'mixed line ends',
  'NUL bytes',
  'escapes in a string',
  'raw characters in a string',
  'cut anywhere',
] as const;

type Mutation = (typeof MUTATIONS)[number];

const insert = (bytes: Buffer, at: number, more: Buffer | readonly number[]): Buffer =>
  Buffer.concat([bytes.subarray(0, at), Buffer.from(more), bytes.subarray(at)]);

/** A random index just past a `"` (inside a string when the quote opens one), or 0. */
function afterQuote(rng: Rng, bytes: Buffer): number {
  const quotes: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x22) quotes.push(i + 1);
  return quotes.length === 0 ? 0 : rng.pick(quotes);
}

/** A random index just past a line break, or 0. */
function lineStart(rng: Rng, bytes: Buffer): number {
  const starts = [0];
  for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
  return rng.pick(starts);
}

function mutate(rng: Rng, bytes: Buffer, mutation: Mutation): Buffer {
  const bad = (): readonly number[] => rng.pick(NOT_UTF8);
  switch (mutation) {
    case 'not UTF-8 in a string':
      return insert(bytes, afterQuote(rng, bytes), bad());
    case 'not UTF-8 at a line start':
      return insert(bytes, lineStart(rng, bytes), bad());
    case 'not UTF-8 in a comment':
      return insert(bytes, lineStart(rng, bytes), [...Buffer.from('# '), ...bad(), 0x0a]);
    case 'not UTF-8 ending the file':
      return Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from(bad())]);
    case 'BOM':
      return Buffer.concat([BOM, bytes]);
    case 'BOM twice':
      return Buffer.concat([BOM, BOM, bytes]);
    case 'BOM on a later line':
      return insert(bytes, lineStart(rng, bytes), BOM);
    case 'BOM then a blank line':
      return Buffer.concat([BOM, Buffer.from(rng.pick(['\n', '\r\n', '# comment\n', '   \n'])), bytes]);
    case 'CRLF':
      return Buffer.from(bytes.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    case 'lone CR':
      return Buffer.from(bytes.toString('latin1').replace(/\n/g, rng.chance(0.5) ? '\r' : '\r\r\n'), 'latin1');
    case 'mixed line ends':
      return Buffer.from(bytes.toString('latin1').replace(/\n/g, () => rng.pick(['\n', '\r\n', '\r\r\n', '\n\r', '\n\n'])), 'latin1');
    case 'NUL bytes':
      return insert(bytes, rng.chance(0.5) ? afterQuote(rng, bytes) : rng.int(bytes.length + 1), Array.from({ length: rng.between(1, 3) }, () => 0));
    case 'escapes in a string':
      return insert(bytes, afterQuote(rng, bytes), Buffer.from(rng.pick(ESCAPES)));
    case 'raw characters in a string':
      return insert(bytes, afterQuote(rng, bytes), Buffer.from(rng.pick(RAW)));
    case 'cut anywhere':
      return bytes.subarray(0, rng.int(bytes.length + 1));
  }
}

export function encoding(rng: Rng, bases: Bases): Made {
  const base = rng.pick(bases.traces);
  let bytes: Buffer = Buffer.from(`${base.lines.slice(0, rng.between(1, 30)).join('\n')}\n`);
  const done: Mutation[] = [];
  for (let n = rng.between(1, 2); n > 0; n--) {
    const mutation = rng.pick(MUTATIONS);
    bytes = mutate(rng, bytes, mutation);
    done.push(mutation);
  }
  return { what: done.join(', '), content: bytes };
}
