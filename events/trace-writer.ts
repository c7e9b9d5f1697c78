/**
 * Writing parsed headers and events back as trace lines. Output follows the format's
 * conventions: hex strings for addresses, lengths and other u64 values (a zero is `0`), plain
 * numbers for ids, fds, pids and 32-bit values, flags and enums as integers; only what differs
 * from the defaults is written (`size` when it is not sizeof, fields that are not zero,
 * `__trailing` when a trailing byte is non-zero). Reading a written line gives back the parsed
 * value it was written from.
 */
import { NO_TRAILING } from './args.ts';
import { inputCodec, outputCodec } from './key-codecs.ts';
import { type OpPlan, PLANS } from './op-plan.ts';
import type { OpName } from './ops.ts';
import type { EventArgs, Fields, TraceEvent, TraceHeader } from './types.ts';
import { type JsonRecord, formatLoose, hex, plainNumber } from './value-writer.ts';
import { setOwn } from './values.ts';
import { CURRENT_VERSION } from './version.ts';

function formatArgs(plan: OpPlan, args: EventArgs): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, entry] of plan.inputs) {
    const value = inputCodec(entry.kind).formatInput(entry, key, args, plan);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function formatOut(plan: OpPlan, fields: Fields): JsonRecord {
  const out: JsonRecord = {};
  for (const [key, value] of Object.entries(fields)) {
    const entry = plan.outputs.get(key);
    if (entry === undefined) throw new Error(`${key} is not an output of ${plan.spec.op}`);
    out[key] = outputCodec(entry.kind).formatOutput(entry, value);
  }
  return out;
}

/** Each possible value written as the argument itself would be. */
function formatOneOf(plan: OpPlan, oneOf: NonNullable<TraceEvent['argsOneOf']>): JsonRecord {
  const out: JsonRecord = {};
  for (const [name, values] of Object.entries(oneOf)) {
    const entry = plan.inputs.get(name);
    if (entry === undefined) throw new Error(`${name} is not an argument of ${plan.spec.op}`);
    const codec = inputCodec(entry.kind);
    setOwn(out, name, values.map((value) => codec.formatInput(entry, name, { size: 0, fields: { [name]: value }, trailing: NO_TRAILING }, plan) ?? 0));
  }
  return out;
}

function planOf(op: OpName): OpPlan {
  const plan = PLANS.get(op);
  if (plan === undefined) throw new Error(`${op} is not an op of trace format ${CURRENT_VERSION}`);
  return plan;
}

/** One event as a trace line, without its newline. */
export function formatEvent(event: TraceEvent): string {
  const plan = planOf(event.op);
  const out: { [key: string]: unknown } = {};
  if (event.seq !== null) out.seq = event.seq;
  if (event.sourceLine !== undefined) out.source_line = event.sourceLine;
  if (event.pid !== undefined) out.pid = event.pid;
  if (event.fd !== undefined) out.fd = event.fd;
  out.op = event.op;
  if (event.args === null) out.args = null;
  else {
    const args = formatArgs(plan, event.args);
    if (Object.keys(args).length > 0) out.args = args;
  }
  if (event.unknownArgs !== undefined) out.unknown_args = event.unknownArgs;
  if (event.argsOneOf !== undefined) out.args_one_of = formatOneOf(plan, event.argsOneOf);
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
  if (env.vfio !== null) {
    envOut.vfio = env.vfio.drivers === null ? { container: env.vfio.container } : { container: env.vfio.container, drivers: env.vfio.drivers };
  }
  if (Object.keys(header.params).length > 0) envOut.params = formatLoose(header.params);
  if (env.kernel !== null) envOut.kernel = env.kernel;
  for (const [key, value] of Object.entries(env.extra)) setOwn(envOut, key, value);
  out.env = envOut;
  for (const [key, value] of Object.entries(header.extra)) setOwn(out, key, value);
  return JSON.stringify(out);
}
