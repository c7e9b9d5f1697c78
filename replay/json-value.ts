/**
 * Values as a report prints them: addresses and lengths as hex strings (as traces write
 * them), ids, fds and counts as plain numbers.
 */
import type { Value } from '../events/types.ts';

const PLAIN = /(^|_)(id|fd|pid|uid|num|size|argsz|ret|len|count|refs)(_|$)|^num_iovas$|^entry_num$/;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toJson(value: Value, key = ''): Json {
  if (typeof value === 'bigint') {
    return PLAIN.test(key) && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n
      ? Number(value)
      : `0x${value.toString(16)}`;
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (Array.isArray(value)) return (value as readonly Value[]).map((v) => toJson(v, key));
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value as { readonly [k: string]: Value })) out[k] = toJson(v, k);
  return out;
}
