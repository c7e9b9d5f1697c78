/**
 * What JSON.parse lets through in a line and the format does not: nesting deeper than
 * `MAX_DEPTH`, which would exhaust the stack of every recursive walk over the value (and of
 * JSON.stringify), and an object that gives a key twice, of which JSON.parse silently keeps
 * the last (`{"op":"BOGUS","op":"OPEN"}` would run as `OPEN`).
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

/**
 * The first problem of `text`'s shape, or null. Nesting too deep is found wherever it is; a
 * repeated key is reported as found, and only means something once the line parses (a line
 * that does not may be scanned wrongly past its first error, which JSON.parse reports).
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
    }
  }
  return found;
}
