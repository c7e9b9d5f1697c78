import { clip, show } from './quote.ts';

/**
 * A value of a trace line that the format does not allow. The parsers below the reader know the
 * offending key and value but not the file or line; the reader turns this into a `TraceError`.
 */
export class FieldError extends Error {
  override readonly name = 'FieldError';
  /**
   * Where in the line: `args.allowed_iovas[0].start`, each key of the trace quoted by `clip`;
   * empty for the line as a whole.
   */
  readonly path: string;
  /** What is wrong, naming the value: `"0xzz" is not a number`. */
  readonly problem: string;

  /**
   * `key`: where the problem is, as the trace or the format names it (a key, `[i]`, or a short
   * path such as `[1].pid`). `inner`: the path below `key`, already quoted.
   */
  constructor(key: string, problem: string, inner = '') {
    const outer = clip(key);
    const path = inner === '' || outer === '' || inner.startsWith('[') ? outer + inner : `${outer}.${inner}`;
    super(path === '' ? problem : `${path}: ${problem}`);
    this.path = path;
    this.problem = problem;
  }

  /** The same problem one level further out: `key` is an object key, or `[i]` for an index. */
  under(key: string): FieldError {
    return new FieldError(key, this.problem, this.path);
  }
}

/** Re-throws `e` one level further out when it is a `FieldError`, as it is. */
export function rethrowUnder(e: unknown, key: string): never {
  throw e instanceof FieldError ? e.under(key) : e;
}

/** `parse()`, with a problem placed under `key`. */
export function under<T>(key: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    return rethrowUnder(e, key);
  }
}

/** `raw` when it is a JSON object (not an array, not null); `what` names what was expected. */
export function recordOf(raw: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FieldError('', `${show(raw)} is not ${what}`);
  }
  return raw as Readonly<Record<string, unknown>>;
}

/** `parse` applied to every item, with a problem placed under the item's index. */
export function mapItems<T>(items: readonly unknown[], parse: (item: unknown) => T): T[] {
  return items.map((item, i) => {
    try {
      return parse(item);
    } catch (e) {
      return rethrowUnder(e, `[${i}]`);
    }
  });
}
