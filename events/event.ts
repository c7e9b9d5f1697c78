/**
 * One event line (trace-format.md, "Event lines"), parsed against its op's plan.
 */
import { NO_TRAILING, parseArgs, parseOut } from './args.ts';
import { isErrnoName } from './errno.ts';
import { FieldError, recordOf, rethrowUnder, under } from './field-error.ts';
import { show } from './quote.ts';
import { type IntegerRange, parseInteger, parseKernelNumber } from './numbers.ts';
import { type OpPlan, PLANS, TRAILING_KEY } from './op-plan.ts';
import { isOpName } from './ops.ts';
import type { EventArgs, Expectation, TraceEvent, Value } from './types.ts';
import { setOwn } from './values.ts';
import { CURRENT_VERSION } from './version.ts';

type Json = Readonly<Record<string, unknown>>;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The op's plan, or a `FieldError` naming the bad `op`. */
function planOfEvent(raw: Json): OpPlan {
  const op = raw.op;
  if (op === undefined) throw new FieldError('op', 'missing');
  if (typeof op !== 'string') throw new FieldError('op', `${show(op)} is not a string`);
  const plan = isOpName(op) ? PLANS.get(op) : undefined;
  if (plan === undefined) throw new FieldError('op', `${show(op)} is not an op of trace format ${CURRENT_VERSION}`);
  return plan;
}

export function parseEvent(raw: unknown, line: number): TraceEvent {
  const given = recordOf(raw, 'an event object');
  const plan = planOfEvent(given);
  const event: Mutable<TraceEvent> = { line, seq: null, op: plan.spec.op, args: null, unsure: false, extra: {} };
  let args: EventArgs | null | undefined;
  for (const key of Object.keys(given)) {
    const value = given[key];
    try {
      switch (key) {
        case 'op':
          break;
        case 'seq':
          event.seq = value === null ? null : Number(parseInteger(value, SEQ));
          break;
        case 'pid':
          event.pid = Number(parseKernelNumber(value, 'u32'));
          break;
        case 'fd':
          event.fd = Number(parseKernelNumber(value, 's32'));
          break;
        case 'args':
          args = value === null ? null : parseArgs(plan, value);
          break;
        case 'expect':
          event.expect = parseExpect(plan, value);
          break;
        case 'inferred':
          event.inferred = parseInferred(plan, value);
          break;
        case 'unsure':
          if (typeof value !== 'boolean') throw new FieldError('', `${show(value)} is not true or false`);
          event.unsure = value;
          break;
        case 'fail_nth':
          event.failNth = Number(parseInteger(value, FAIL_NTH));
          break;
        case 'source_line':
          event.sourceLine = Number(parseInteger(value, SOURCE_LINE));
          break;
        case 'unknown_args':
          event.unknownArgs = parseUnknownArgs(plan, value);
          break;
        case 'args_one_of':
          event.argsOneOf = parseArgsOneOf(plan, value);
          break;
        default:
          setOwn(event.extra as { [key: string]: unknown }, key, value);
      }
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  event.args = args === undefined ? defaultArgs(plan) : args;
  checkUnrecorded(event, given.args);
  return event;
}

/** Capture lines count from 1. */
const SOURCE_LINE: IntegerRange = { min: 1n, max: BigInt(Number.MAX_SAFE_INTEGER), signed: false, label: 'source_line (1 to 2^53 - 1)' };

/** The most combinations of `args_one_of` an event may ask to run. */
export const MAX_ONE_OF_COMBINATIONS = 64;

/** An input key of the op that an event may leave unrecorded (not `__trailing`, which has no value of its own). */
function unrecordedKey(plan: OpPlan, name: unknown, at: string): string {
  if (typeof name !== 'string' || !plan.inputs.has(name) || name === TRAILING_KEY) {
    throw new FieldError(at, `${show(name)} is not an argument of ${plan.spec.op}`);
  }
  return name;
}

function parseUnknownArgs(plan: OpPlan, raw: unknown): true | string[] {
  if (raw === true) return true;
  if (!Array.isArray(raw) || raw.length === 0) throw new FieldError('', `${show(raw)} is not true or a non-empty list of argument names`);
  const names = raw.map((name: unknown, i) => unrecordedKey(plan, name, `[${i}]`));
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) throw new FieldError(`[${i}]`, `${show(name)} is listed twice`);
  });
  return names;
}

function parseArgsOneOf(plan: OpPlan, raw: unknown): { [name: string]: Value[] } {
  const given = recordOf(raw, 'an object of argument names and their possible values');
  const out: { [name: string]: Value[] } = {};
  let combinations = 1;
  for (const [name, values] of Object.entries(given)) {
    unrecordedKey(plan, name, name);
    if (!Array.isArray(values) || values.length === 0) throw new FieldError(name, `${show(values)} is not a non-empty list of values`);
    // Each value is read as the argument itself would be.
    const parsed = values.map((value: unknown, i): Value => {
      try {
        return parseArgs(plan, { [name]: value }).fields[name] ?? null;
      } catch (e) {
        throw e instanceof FieldError ? new FieldError(`${name}[${i}]`, e.problem) : e;
      }
    });
    setOwn(out, name, parsed);
    combinations *= values.length;
  }
  if (Object.keys(out).length === 0) throw new FieldError('', 'names no argument');
  if (combinations > MAX_ONE_OF_COMBINATIONS) throw new FieldError('', `${combinations} combinations, more than ${MAX_ONE_OF_COMBINATIONS}`);
  return out;
}

/** An argument is given, unknown, or one of some values: never two of these. */
function checkUnrecorded(event: Pick<TraceEvent, 'unknownArgs' | 'argsOneOf'>, rawArgs: unknown): void {
  const given = typeof rawArgs === 'object' && rawArgs !== null ? Object.keys(rawArgs) : [];
  const unknown = event.unknownArgs;
  const oneOf = Object.keys(event.argsOneOf ?? {});
  if (unknown === true && (given.length > 0 || rawArgs === null || oneOf.length > 0)) {
    throw new FieldError('unknown_args', 'true (no argument recorded), but args or args_one_of give some');
  }
  for (const name of unknown === true ? [] : (unknown ?? [])) {
    if (given.includes(name)) throw new FieldError('unknown_args', `${show(name)} is also given in args`);
    if (oneOf.includes(name)) throw new FieldError('unknown_args', `${show(name)} is also given in args_one_of`);
  }
  for (const name of oneOf) if (given.includes(name)) throw new FieldError('args_one_of', `${show(name)} is also given in args`);
}

/** The arguments of an event without `args`: every field at its default. */
function defaultArgs(plan: OpPlan): EventArgs {
  return plan.record === null ? { size: 0, fields: {}, trailing: NO_TRAILING } : parseArgs(plan, {});
}

/** A JavaScript number holds `seq` exactly. */
const SEQ: IntegerRange = { min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER), signed: false, label: 'seq (0 to 2^53 - 1)' };

/** fail_nth counts injection points from 1, as the kernel's /proc/<pid>/fail-nth does. */
const FAIL_NTH: IntegerRange = { min: 1n, max: 0xffffffffn, signed: false, label: 'fail_nth (1 to 2^32 - 1)' };

function parseExpect(plan: OpPlan, raw: unknown): Expectation {
  const given = recordOf(raw, 'an object');
  const expect: Mutable<Expectation> = {};
  for (const key of Object.keys(given)) {
    const value = given[key];
    if (key === 'errno') {
      if (typeof value !== 'string' || (value !== '*' && !isErrnoName(value))) {
        throw new FieldError(key, `${show(value)} is not an errno name or "*"`);
      }
      expect.errno = value;
    } else if (key === 'out') {
      expect.out = under(key, () => parseOut(plan, value));
    } else {
      throw new FieldError(key, 'not part of an expectation (errno, out)');
    }
  }
  return expect;
}

function parseInferred(plan: OpPlan, raw: unknown): true | string[] {
  if (raw === true) return true;
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not true or a list of output names`);
  return raw.map((name: unknown, i) => {
    if (typeof name !== 'string' || !plan.outputs.has(name)) {
      throw new FieldError(`[${i}]`, `${show(name)} is not an output of ${plan.spec.op}`);
    }
    return name;
  });
}
