/**
 * A kernel errno as a value. Commands return `T | Fail` and never throw for a kernel error:
 * an exception in the model means a bug or corrupt input, an errno is an answer. A failure
 * names the kernel check that fired, the function and a short reason, so that a divergence
 * report says where to look in the kernel: `EINVAL iopt_check_iova: unaligned`.
 */
import type { Errno } from '../../events/errno.ts';

export class Fail {
  /** `EINVAL iopt_check_iova: unaligned`: the errno, the kernel function, the reason. */
  readonly check: string;

  private constructor(
    readonly errno: Errno,
    readonly where: string,
    readonly reason: string,
  ) {
    this.check = `${errno} ${where}: ${reason}`;
  }

  // A failure is one of a few hundred checks: each is built once and shared.
  private static readonly interned = new Map<string, Fail>();

  static of(errno: Errno, where: string, reason: string): Fail {
    const key = `${errno} ${where}: ${reason}`;
    let f = Fail.interned.get(key);
    if (f === undefined) {
      f = new Fail(errno, where, reason);
      Fail.interned.set(key, f);
    }
    return f;
  }
}

/** The failure `errno` of kernel function `where`, for `reason`. */
export const fail = (errno: Errno, where: string, reason: string): Fail => Fail.of(errno, where, reason);
