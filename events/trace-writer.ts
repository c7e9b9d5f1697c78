/**
 * Writing parsed headers and events back as trace lines. Output follows the format's
 * conventions: hex strings for addresses, lengths and other u64 values (a zero is `0`), plain
 * numbers for ids, fds, pids and 32-bit values, flags and enums as integers; only what differs
 * from the defaults is written (`size` when it is not sizeof, fields that are not zero,
 * `__trailing` when a trailing byte is non-zero). Reading a written line gives back the parsed
 * value it was written from.
 */
import { NO_TRAILING } from './args.ts';
import { DATA_KEY, type Group, type OpPlan, PLANS, type RecordPlan, TRAILING_KEY, recordPlan } from './op-plan.ts';
import type { EnvArgSpec, EventArgs, FieldSpec, Fields, TraceEvent, TraceHeader, Value } from './types.ts';
import { setOwn } from './values.ts';
import { CURRENT_VERSION } from './version.ts';

type Json = null | boolean | number | string | readonly Json[] | { [key: string]: Json };
type JsonRecord = { [key: string]: Json };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U32_LIMIT = 1n << 32n;

/** A u64 as the format writes addresses and lengths. */
const hex = (v: bigint): Json => (v === 0n ? 0 : `0x${v.toString(16)}`);

/** A value the format writes as a plain number, as long as JSON can carry it exactly. */
const plainNumber = (v: bigint): Json => (v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v < 0n ? v.toString() : hex(v));

function bigintOf(value: Value, what: string): bigint {
  if (typeof value !== 'bigint') throw new Error(`${what}: expected a bigint, got ${typeof value}`);
  return value;
}

function formatField(field: FieldSpec, value: Value): Json {
  if (value === null) return null;
  if (Array.isArray(value) && field.pointer?.kind === 'array') {
    const element = recordPlan(field.pointer.element);
    return value.map((item: Value) => formatRecord(element, item as Fields));
  }
  const v = bigintOf(value, field.name);
  if (field.pointer !== undefined) return hex(v);
  if (field.names === undefined && field.type === 'u64' && field.count === undefined) return hex(v);
  return plainNumber(v);
}

/** A record with the keys it has, each as its field writes it. */
function formatRecord(plan: RecordPlan, record: Fields): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, value] of Object.entries(record)) {
    const entry = plan.keys.get(key);
    if (entry === undefined) throw new Error(`${key} is not a field of struct ${plan.struct.name}`);
    out[key] = entry.kind === 'group' ? formatGroup(entry, value, false) : formatField(entry.field, value);
  }
  return out;
}

function formatGroup(group: Group, value: Value, skipZeros: boolean): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, member] of Object.entries(value as Fields)) {
    const field = group.members.get(key);
    if (field === undefined) throw new Error(`${key} is not a member of ${group.name}`);
    if (!(skipZeros && (member === 0n || member === null))) out[key] = formatField(field, member);
  }
  return out;
}

/** Values of open layout: small numbers plain, large ones hex, the rest as they are. */
function formatLoose(value: Value): Json {
  if (typeof value === 'bigint') {
    if (value < 0n) return plainNumber(value);
    return value < U32_LIMIT ? Number(value) : hex(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(formatLoose);
  const out: JsonRecord = {};
  for (const [key, item] of Object.entries(value as Fields)) setOwn(out, key, formatLoose(item));
  return out;
}

function formatArg(spec: EnvArgSpec, value: Value): Json {
  if (value === null) return spec.type === 'rlimit' ? 'unlimited' : null;
  switch (spec.type) {
    case 'u64':
    case 'rlimit':
      return hex(bigintOf(value, spec.name));
    case 'u32':
    case 's32':
    case 'flags':
    case 'enum':
      return plainNumber(bigintOf(value, spec.name));
    case 'records':
      return formatLoose(value);
    default:
      return value as Json;
  }
}

/** The default of a count field: the length of the inline array beside it, if any. */
function countDefault(plan: OpPlan, fields: Fields, key: string): bigint {
  const count = plan.counts.find((c) => c.count === key);
  const items = count === undefined ? undefined : fields[count.array];
  return Array.isArray(items) ? BigInt(items.length) : 0n;
}

function formatArgs(plan: OpPlan, args: EventArgs): JsonRecord {
  const out: JsonRecord = {};
  const fields = args.fields;
  const struct = plan.record?.struct;
  for (const [key, entry] of plan.inputs) {
    const value = fields[key];
    switch (entry.kind) {
      case 'field':
        if (key === struct?.sizeField) {
          if (args.size !== struct.size) out[key] = args.size;
        } else if (value !== undefined && value !== null && value !== countDefault(plan, fields, key)) {
          // Left out otherwise: a zero, a NULL pointer, or a count equal to its array's length.
          out[key] = formatField(entry.field, value);
        }
        break;
      case 'group': {
        const members = value === undefined ? {} : formatGroup(entry, value, true);
        if (Object.keys(members).length > 0) out[key] = members;
        break;
      }
      case 'data':
        if (value !== undefined) out[DATA_KEY] = formatLoose(value);
        break;
      case 'arg':
        if (value !== undefined) out[key] = formatArg(entry.arg, value);
        break;
      case 'trailing':
        if (args.trailing.length > 0) out[TRAILING_KEY] = `0x${Buffer.from(args.trailing).toString('hex')}`;
        break;
    }
  }
  return out;
}

function formatOut(plan: OpPlan, fields: Fields): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, value] of Object.entries(fields)) {
    const entry = plan.outputs.get(key);
    if (entry === undefined) throw new Error(`${key} is not an output of ${plan.spec.op}`);
    switch (entry.kind) {
      case 'field':
        out[key] = formatField(entry.field, value);
        break;
      case 'group':
        out[key] = formatGroup(entry, value, false);
        break;
      case 'buffer': {
        const pointer = entry.field.pointer;
        const element = pointer?.kind === 'buffer' ? pointer.element : undefined;
        out[key] =
          element !== undefined && Array.isArray(value)
            ? value.map((item: Value) => formatRecord(recordPlan(element), item as Fields))
            : formatLoose(value);
        break;
      }
      case 'data':
        out[key] = formatLoose(value);
        break;
      case 'arg':
        out[key] = formatArg(entry.arg, value);
        break;
    }
  }
  return out;
}

function planOf(op: string): OpPlan {
  const plan = PLANS.get(op);
  if (plan === undefined) throw new Error(`${op} is not an op of trace format ${CURRENT_VERSION}`);
  return plan;
}

/** One event as a trace line, without its newline. */
export function formatEvent(event: TraceEvent): string {
  const plan = planOf(event.op);
  const out: { [key: string]: unknown } = {};
  if (event.seq !== null) out.seq = event.seq;
  if (event.pid !== undefined) out.pid = event.pid;
  if (event.fd !== undefined) out.fd = event.fd;
  out.op = event.op;
  if (event.args === null) out.args = null;
  else {
    const args = formatArgs(plan, event.args);
    if (Object.keys(args).length > 0) out.args = args;
  }
  if (event.expect !== undefined) {
    const expect: JsonRecord = {};
    if (event.expect.errno !== undefined) expect.errno = event.expect.errno;
    if (event.expect.out !== undefined) expect.out = formatOut(plan, event.expect.out);
    out.expect = expect;
  }
  if (event.inferred !== undefined) out.inferred = event.inferred;
  if (event.unsure) out.unsure = true;
  if (event.failNth !== undefined) out.fail_nth = event.failNth;
  for (const [key, value] of Object.entries(event.extra)) setOwn(out, key, value);
  return JSON.stringify(out);
}

/**
 * The header as the first line of a trace, without its newline. It declares the current version,
 * the one written, whatever version `header` was read from.
 */
export function formatHeader(header: TraceHeader): string {
  const { env } = header;
  const mmap = planOf('MMAP');
  const out: { [key: string]: unknown } = {
    trace: 'iommufd',
    version: CURRENT_VERSION,
  };
  const envOut: { [key: string]: unknown } = {
    page_size: plainNumber(env.pageSize),
    hugepage_size: plainNumber(env.hugepageSize),
    memory: env.memory,
  };
  if (env.mappings.length > 0) {
    envOut.mappings = env.mappings.map((fields) => formatArgs(mmap, { size: 0, fields, trailing: NO_TRAILING }));
  }
  envOut.processes = env.processes.map((p) => ({
    pid: p.pid,
    uid: p.uid,
    rlimit_memlock: p.rlimitMemlock === null ? 'unlimited' : hex(p.rlimitMemlock),
    caps: p.caps,
  }));
  if (env.devices.length > 0) {
    envOut.devices = env.devices.map((d) => {
      const device: JsonRecord = { name: d.name, kind: d.kind };
      for (const [key, value] of Object.entries(d.params)) setOwn(device, key, formatLoose(value));
      return device;
    });
  }
  for (const [key, value] of Object.entries(env.extra)) setOwn(envOut, key, value);
  out.env = envOut;
  if (header.kernel !== undefined) out.kernel = header.kernel;
  if (Object.keys(header.params).length > 0) out.params = formatLoose(header.params);
  for (const [key, value] of Object.entries(header.extra)) setOwn(out, key, value);
  return JSON.stringify(out);
}
