/**
 * One event line (trace-format.md, "Event lines"), parsed against its op's plan.
 */
import { NO_TRAILING, parseArgs, parseOut } from './args.ts';
import { isErrnoName } from './errno.ts';
import { FieldError, recordOf, rethrowUnder, show, under } from './field-error.ts';
import { parseKernelNumber } from './numbers.ts';
import { type OpPlan, PLANS } from './op-plan.ts';
import { isOpName } from './ops.ts';
import type { EventArgs, Expectation, TraceEvent } from './types.ts';
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
          event.seq = value === null ? null : safeInteger(value);
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
          event.failNth = failNth(value);
          break;
        default:
          setOwn(event.extra as { [key: string]: unknown }, key, value);
      }
    } catch (e) {
      rethrowUnder(e, key);
    }
  }
  event.args = args === undefined ? defaultArgs(plan) : args;
  return event;
}

/** The arguments of an event without `args`: every field at its default. */
function defaultArgs(plan: OpPlan): EventArgs {
  return plan.record === null ? { size: 0, fields: {}, trailing: NO_TRAILING } : parseArgs(plan, {});
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function safeInteger(raw: unknown): number {
  const value = parseKernelNumber(raw, 'u64');
  if (value > MAX_SAFE) throw new FieldError('', `${show(raw)} is beyond 2^53 - 1`);
  return Number(value);
}

function failNth(raw: unknown): number {
  const value = Number(parseKernelNumber(raw, 'u32'));
  // fail_nth counts injection points from 1, as the kernel's /proc/<pid>/fail-nth does.
  if (value === 0) throw new FieldError('', `${show(raw)} is not a point number (they count from 1)`);
  return value;
}

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
