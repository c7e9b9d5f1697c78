/**
 * Compares what the model answered with what the trace says the real system answered
 * (trace format, "Replay contract"): the errno, then every output field the trace gives.
 */
import type { Expectation, Fields, Value } from '../events/types.ts';
import type { RejectedChoice, Result } from '../src/model/command.ts';

export function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as readonly Value[];
    return a.length === bs.length && a.every((v: Value, i: number) => sameValue(v, bs[i]));
  }
  const ao = a as Fields;
  const bo = b as Fields;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((k) => sameValue(ao[k], bo[k]));
}

/** The outputs a result shows, with an ioctl's non-zero return value as `ret`. */
export function outputsOf(result: Result): Fields {
  return result.ret === undefined ? result.out : { ...result.out, ret: result.ret };
}

/** Whether `result` matches `expect`: same success or errno, and every expected output field equal. */
export function matches(expect: Expectation, result: Result, rejected: readonly RejectedChoice[]): boolean {
  if (rejected.length > 0) return false;
  if (expect.errno === undefined) {
    if (result.errno !== null) return false;
  } else if (result.errno === null || (expect.errno !== '*' && expect.errno !== result.errno)) {
    return false;
  }
  if (expect.out === undefined) return true;
  const actual = outputsOf(result);
  for (const [field, value] of Object.entries(expect.out)) {
    if (!sameValue(value, actual[field])) return false;
  }
  return true;
}
