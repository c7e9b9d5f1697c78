/**
 * What a command handler receives and returns. A handler is a pure function of the snapshot
 * and the event; its only other input is the set of recorded free choices it may adopt.
 */
import type { Errno } from '../../events/errno.ts';
import type { Fields, TraceEvent, Value } from '../../events/types.ts';
import { Fail } from './fail.ts';
import type { Process, World } from './world.ts';

/** A recorded free choice the model could not adopt (spec: trace-format "Free choices"). */
export interface RejectedChoice {
  readonly field: string;
  readonly recorded: Value;
  readonly reason: string;
}

/**
 * The free choices recorded for one event, and the log of those found illegal. The log is the
 * one piece of mutable state a step owns; it is created per step and returned with the result.
 */
export class Choices {
  readonly rejected: RejectedChoice[] = [];

  constructor(private readonly recorded: Fields | null) {}

  /** The recorded value of an output field, when choices are adopted. */
  proposed(field: string): Value | undefined {
    return this.recorded === null ? undefined : this.recorded[field];
  }

  reject(field: string, recorded: Value, reason: string): void {
    this.rejected.push({ field, recorded, reason });
  }
}

export interface Call {
  readonly world: World;
  readonly event: TraceEvent;
  readonly process: Process;
  readonly choices: Choices;
}

/** A command's answer: the next snapshot, the errno (null for success) and what was written back. */
export interface Result {
  readonly world: World;
  readonly errno: Errno | null;
  /** The kernel check that failed (`Fail.check`), with the errno. */
  readonly check?: string;
  readonly out: Fields;
  /** The ioctl's return value where it is not 0 (VFIO_CHECK_EXTENSION, an fd...). */
  readonly ret?: bigint;
}

const NO_OUT: Fields = Object.freeze({});

export const ok = (world: World, out: Fields = NO_OUT): Result => ({ world, errno: null, out });

/** A failure that leaves the snapshot exactly as it was. */
export const refuse = (call: Call, f: Fail, out: Fields = NO_OUT): Result => ({ world: call.world, errno: f.errno, check: f.check, out });

/** A failure after which the kernel keeps a partial effect (spec §3.8, §3.15, §3.22). */
export const partial = (world: World, f: Fail, out: Fields = NO_OUT): Result => ({ world, errno: f.errno, check: f.check, out });

/** Reads a numeric field of a parsed struct; absent fields are 0 (the kernel zero-fills). */
export function big(fields: Fields, name: string): bigint {
  const v = fields[name];
  return typeof v === 'bigint' ? v : 0n;
}

export function num(fields: Fields, name: string): number {
  return Number(big(fields, name));
}

export { Fail };
