/**
 * JSON as a hostile trace line writes it, with what `JSON.stringify` cannot write: literal text
 * (`1e400`, `-0`, `9007199254740993`, nesting 100,000 deep, a line cut short) and an object that
 * gives a key twice. Values are built and changed without touching the ones they came from.
 */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object as a list of its entries, so that a key may come twice; a `Raw` key is the key's JSON text. */
export class Pairs {
  constructor(readonly entries: readonly (readonly [key: string | Raw, value: Json])[]) {}
}

export type Json = null | boolean | number | string | Raw | Pairs | readonly Json[] | { readonly [key: string]: Json };

export type Step = string | number;

const isRecord = (value: Json | undefined): value is { readonly [key: string]: Json } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Raw) && !(value instanceof Pairs);

/** The JSON text of `value`. */
export function text(value: Json): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Pairs) {
    return `{${value.entries.map(([k, v]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${text(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(text).join(',')}]`;
  if (isRecord(value)) return text(new Pairs(Object.entries(value)));
  return JSON.stringify(value);
}

/** A copy of a record with `key` set, as an own property even when it is `__proto__`. */
function withKey(record: { readonly [key: string]: Json }, key: string, value: Json): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(record)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** `root` with the value at `path` replaced by `value`, the containers on the way made when missing. */
export function setAt(root: Json | undefined, path: readonly Step[], value: Json): Json {
  const [step, ...rest] = path;
  if (step === undefined) return value;
  if (typeof step === 'number') {
    const items: Json[] = Array.isArray(root) ? [...(root as Json[])] : [];
    while (items.length < step) items.push({});
    items[step] = setAt(items[step], rest, value);
    return items;
  }
  const record = isRecord(root) ? root : {};
  return withKey(record, step, setAt(record[step], rest, value));
}

/** The value at `path`, or undefined. */
export function getAt(root: Json | undefined, path: readonly Step[]): Json | undefined {
  let at: Json | undefined = root;
  for (const step of path) {
    if (typeof step === 'number') at = Array.isArray(at) ? (at as Json[])[step] : undefined;
    else at = isRecord(at) ? at[step] : undefined;
  }
  return at;
}

/**
 * `root` with the key at the end of `path` given twice: first as it is (or `first` when it has
 * no value), then `second` under `spelling`, the key's JSON text (by default the key itself).
 */
export function duplicateAt(root: Json, path: readonly Step[], first: Json, second: Json, spelling?: string): Json {
  const key = path[path.length - 1];
  const parentPath = path.slice(0, -1);
  if (typeof key !== 'string') return root;
  const parent = getAt(root, parentPath);
  const entries: [string | Raw, Json][] = Object.entries(isRecord(parent) ? parent : {});
  if (!entries.some(([k]) => k === key)) entries.push([key, first]);
  entries.push([spelling === undefined ? key : new Raw(spelling), second]);
  return setAt(root, parentPath, new Pairs(entries));
}

/** `key` as JSON text with one of its characters written as a `\uXXXX` escape: the same key to a reader. */
export function escapedKey(key: string, at: number): string {
  if (key === '') return '""';
  const i = at % key.length;
  const escape = `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `"${JSON.stringify(key.slice(0, i)).slice(1, -1)}${escape}${JSON.stringify(key.slice(i + 1)).slice(1, -1)}"`;
}

/**
 * The levels of arrays and objects open just before `at` in the JSON text `line`: where a value
 * put there starts counting its own.
 */
export function depthAt(line: string, at: number): number {
  let depth = 0;
  for (let i = 0; i < at; i++) {
    const c = line[i];
    if (c === '"') {
      for (i++; i < at && line[i] !== '"'; i++) if (line[i] === '\\') i++;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return depth;
}
