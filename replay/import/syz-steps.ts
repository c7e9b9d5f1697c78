/**
 * A syzkaller program as the steps it runs, whether it came as a `.syz` program or a C
 * reproducer: opens and ioctls on fds that are resources or numbers, each ioctl's argument in
 * the memory the program wrote, the resources its outputs give, and how often it runs.
 */
import type { MemoryImage, ResourceRef } from './syz-memory.ts';

export type Operand = bigint | ResourceRef;

export type SyzArg =
  | { readonly kind: 'memory'; readonly addr: bigint; readonly image: MemoryImage }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'none' };

export type SyzStep =
  | { readonly kind: 'open'; readonly line: number; readonly path: string; readonly res: number | null }
  | {
      readonly kind: 'ioctl';
      readonly line: number;
      readonly fd: Operand;
      readonly cmd: bigint;
      readonly arg: SyzArg;
      /** Resources the call writes in its argument: at `offset` from it, `size` bytes. */
      readonly outputs: readonly { readonly res: number; readonly offset: number; readonly size: number }[];
      /** 1, or 1 + N for syzkaller's `(rerun: N)` (a C reproducer's loop around the call). */
      readonly times: number;
    };

export interface SyzProgram {
  readonly steps: readonly SyzStep[];
  /** Runs in a child process forever (syzkaller's `Repeat`, the C reproducer's `loop()`). */
  readonly repeat: boolean;
  /** A resource's value while no call has given it one (the C reproducer's `r[]` initializer). */
  readonly defaults: ReadonlyMap<number, bigint>;
  /** The data area's address at run time, and where it came from. */
  readonly dataBase: { readonly addr: bigint; readonly from: string } | null;
}
