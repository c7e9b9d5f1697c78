/**
 * What JSON.parse lets through in a line and the format does not: nesting deeper than
 * `MAX_DEPTH`, which would exhaust the stack of every recursive walk over the value (and of
 * JSON.stringify); an object that gives a key twice, of which JSON.parse silently keeps
 * the last (`{"op":"BOGUS","op":"OPEN"}` would run as `OPEN`); and a number past the range of
 * a double, which JSON.parse silently makes infinite (`1e400`) or 0 (`1e-400`), so that a
 * field read after it could not tell `1e-400` from `0` (RFC 8259 §6 leaves such numbers to
 * the implementation).
 *
 * One pass over the characters, with no recursion: an object's keys are compared as offsets
 * into the line, so a line costs time in its length and allocates nothing unless a key is
 * escaped or an object has many keys.
 */
import { clip } from './quote.ts';

/** Levels of arrays and objects a line may nest, the line's own object counting as one. */
export const MAX_DEPTH = 64;

export interface ShapeProblem {
  /** True: nesting too deep, reported before the line is parsed at all. */
  readonly tooDeep: boolean;
  readonly reason: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** An object with more keys than this looks its keys up in a set rather than comparing each pair. */
const FEW_KEYS = 16;

// Scratch state, reused from line to line (a line is scanned at once, never interleaved).
/** The keys of the objects open at the moment, outermost first: offsets of their text in the line. */
const keyStart: number[] = [];
const keyEnd: number[] = [];
/** Whether a key's text holds an escape, and so must be decoded to be compared. */
const keyEscaped: boolean[] = [];
/** For each open level: whether it is an array, and where its keys begin in the arrays above. */
const levelArray: boolean[] = [];
const levelKeys: number[] = [];
/** For each open array: the index of the item being read. */
const levelItem: number[] = [];
/** For each open object with many keys: the keys so far. */
const levelSet: (Set<string> | undefined)[] = [];

/** Whether the string `stringEnd` last found holds an escape. */
let stringEscaped = false;

/**
 * The end of the string that opens at `open` (the index of its closing quote), or -1. Strings
 * are short in a trace: a loop over their characters costs less than calls to `indexOf`.
 */
function stringEnd(text: string, open: number): number {
  stringEscaped = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      stringEscaped = true;
      i++;
    }
  }
  return -1;
}

/** The key at `k` as a string; undefined when its escapes are not valid JSON (the parse will say so). */
function keyText(text: string, k: number): string | undefined {
  const start = keyStart[k] as number;
  const end = keyEnd[k] as number;
  if (keyEscaped[k] !== true) return text.slice(start, end);
  try {
    return JSON.parse(text.slice(start - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}

/** Whether the keys at `a` and `b` are the same key. */
function sameKey(text: string, a: number, b: number): boolean {
  if (keyEscaped[a] !== true && keyEscaped[b] !== true) {
    const start = keyStart[a] as number;
    const length = (keyEnd[a] as number) - start;
    const other = keyStart[b] as number;
    if ((keyEnd[b] as number) - other !== length) return false;
    for (let i = 0; i < length; i++) if (text.charCodeAt(start + i) !== text.charCodeAt(other + i)) return false;
    return true;
  }
  const key = keyText(text, a);
  return key !== undefined && key === keyText(text, b);
}

/** Whether the key just pushed at `k` was given before in the object of `level`. */
function repeated(text: string, level: number, k: number): boolean {
  const first = levelKeys[level] as number;
  let set = levelSet[level];
  if (set === undefined && k - first < FEW_KEYS) {
    for (let other = first; other < k; other++) if (sameKey(text, other, k)) return true;
    return false;
  }
  if (set === undefined) {
    set = new Set();
    for (let other = first; other < k; other++) set.add(keyText(text, other) ?? '');
    levelSet[level] = set;
  }
  const key = keyText(text, k);
  if (key === undefined) return false;
  if (set.has(key)) return true;
  set.add(key);
  return false;
}

/** Where the object of `level` sits in the line: `args.allowed_iovas[1]`, each key clipped. */
function pathTo(text: string, level: number): string {
  let path = '';
  for (let outer = 0; outer < level; outer++) {
    if (levelArray[outer] === true) {
      path += `[${levelItem[outer] as number}]`;
    } else {
      // The key being read at `outer` is its last, the one pushed just before the next level opened.
      const key = clip(keyText(text, (levelKeys[outer + 1] as number) - 1) ?? '');
      path += path === '' ? key : `.${key}`;
    }
  }
  return path;
}

/** Where the value being read at `level` sits: `pathTo` its container, then its key or index. */
function valuePath(text: string, level: number, keys: number): string {
  if (level < 0) return '';
  const outer = pathTo(text, level);
  if (levelArray[level] === true) return `${outer}[${levelItem[level] as number}]`;
  const key = clip(keyText(text, keys - 1) ?? '');
  return outer === '' ? key : `${outer}.${key}`;
}

/** Whether the number `numberEnd` last found has an exponent. */
let numberExponent = false;

/** The end of the number that starts at `start`: its characters, valid or not (the parse judges them). */
function numberEnd(text: string, start: number): number {
  numberExponent = false;
  let i = start + 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x65 || c === 0x45) numberExponent = true;
    else if (!((c >= ZERO && c <= NINE) || c === 0x2e || c === 0x2b || c === MINUS)) break;
  }
  return i;
}

/**
 * Fewer digits than this, without an exponent, always make a finite double that is 0 only
 * when every digit is (a double reaches 1.8e308 and 5e-324).
 */
const PLAIN_DIGITS = 300;

/** Why a double cannot hold the number `literal`, or null. */
function outOfDoubleRange(literal: string): string | null {
  const value = Number(literal);
  const mantissa = literal.split(/[eE]/)[0] as string;
  if (Number.isFinite(value) && (value !== 0 || !/[1-9]/.test(mantissa))) return null;
  return `${clip(literal)} is out of range for a double (it would read as ${value === 0 ? 0 : value})`;
}

/**
 * The first problem of `text`'s shape, or null. Nesting too deep is found wherever it is; a
 * repeated key or a number out of range is reported as found, and only means something once
 * the line parses (a line that does not may be scanned wrongly past its first error, which
 * JSON.parse reports).
 */
export function shapeProblem(text: string): ShapeProblem | null {
  let found: ShapeProblem | null = null;
  let level = -1;
  let keys = 0;
  // After `{` or a `,` inside an object, the next string is a key.
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) return found;
      if (keyNext && found === null) {
        keyStart[keys] = i + 1;
        keyEnd[keys] = end;
        keyEscaped[keys] = stringEscaped;
        if (repeated(text, level, keys)) {
          const where = pathTo(text, level);
          const reason = `key ${clip(JSON.stringify(keyText(text, keys)))} is given twice`;
          found = { tooDeep: false, reason: where === '' ? reason : `${where}: ${reason}` };
        }
        keys++;
      }
      keyNext = false;
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++level === MAX_DEPTH) {
        return { tooDeep: true, reason: `nested deeper than ${MAX_DEPTH} levels at position ${i}` };
      }
      levelArray[level] = c === OPEN_ARRAY;
      levelKeys[level] = keys;
      levelItem[level] = 0;
      levelSet[level] = undefined;
      keyNext = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (level < 0) return found;
      keys = levelKeys[level] as number;
      levelSet[level] = undefined;
      level--;
      keyNext = false;
    } else if (c === COMMA) {
      if (level < 0) return found;
      if (levelArray[level] === true) levelItem[level] = (levelItem[level] as number) + 1;
      else keyNext = true;
    } else if (c === COLON) {
      keyNext = false;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const end = numberEnd(text, i);
      // Only an exponent or hundreds of digits take a number past a double: the rest cost nothing more.
      const range: string | null = found === null && (numberExponent || end - i >= PLAIN_DIGITS) ? outOfDoubleRange(text.slice(i, end)) : null;
      if (range !== null) {
        const where = valuePath(text, level, keys);
        found = { tooDeep: false, reason: where === '' ? range : `${where}: ${range}` };
      }
      i = end - 1;
    }
  }
  return found;
}
