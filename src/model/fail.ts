/**
 * A kernel errno as a value. Commands return `T | Fail` and never throw for a kernel error:
 * an exception in the model means a bug or corrupt input, an errno is an answer.
 */
export class Fail {
  private constructor(readonly errno: string) {}

  private static readonly interned = new Map<string, Fail>();

  static of(errno: string): Fail {
    let f = Fail.interned.get(errno);
    if (f === undefined) {
      f = new Fail(errno);
      Fail.interned.set(errno, f);
    }
    return f;
  }
}

export const fail = (errno: string): Fail => Fail.of(errno);
