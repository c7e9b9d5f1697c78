/**
 * A seeded pseudo-random stream (sfc32), so that file `i` of seed `s` is the same bytes on every
 * machine and can be made again alone: each file draws from its own stream, `fileRng(s, i)`.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, salt: number) {
    this.a = seed >>> 0;
    this.b = salt >>> 0;
    this.c = 0x9e3779b9;
    this.d = 1;
    // The first outputs of sfc32 still show the seed; a few rounds mix it in.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer from 0 to `n - 1`. */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /** An integer from `min` to `max`, both included. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)] as T;
  }
}

/** The stream of file `index` of the campaign of `seed`. */
export const fileRng = (seed: number, index: number): Rng => new Rng(seed, Math.imul(index + 1, 0x85ebca6b));
