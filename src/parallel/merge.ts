/**
 * `merge`: the `--json` reports of the shards of one run, made into the report that run would
 * have given over all its units. Reports that do not make exactly one whole run together are
 * refused: another command, seed, options or number of units (another run), shards of
 * different splits or the same shard twice (they overlap), a shard missing, or a report whose
 * units are not its shard's.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { clip } from '../../events/quote.ts';
import { type AuditReport, auditExitCode } from '../../replay/audit.ts';
import { type ReplayReport, type TraceReport, exitCode, replayReport } from '../../replay/replay-file.ts';
import { errorCode } from '../cli-files.ts';
import { type FuzzReport, type ReportedCounterexample, fuzzReport } from '../fuzz/fuzz-report.ts';
import { tally } from '../fuzz/tally.ts';
import type { AuditPart, FuzzPart, Indexed, Part, ReplayPart } from './part.ts';
import { WHOLE, shardUnits, showShard } from './shard.ts';

export type Merged =
  | { readonly command: 'replay'; readonly report: ReplayReport; readonly exitCode: number }
  | { readonly command: 'audit'; readonly audits: readonly AuditReport[]; readonly exitCode: number }
  | { readonly command: 'fuzz'; readonly report: FuzzReport; readonly exitCode: number };

const index = z.int().min(0);
const count = z.number().min(0);
const SHAPE = z.discriminatedUnion('command', [
  z.looseObject({
    command: z.literal('replay'),
    options: z.looseObject({ invariants: z.boolean() }),
    traces: z.array(
      z.looseObject({
        index,
        events: count,
        ok: count,
        diverged: count,
        ran: count,
        unsupported: count,
        unsure_diverged: count,
        violations: z.array(z.unknown()).optional(),
        violationsOmitted: count.optional(),
        quirks: z.array(z.unknown()),
        quirksOmitted: count.optional(),
        findings: z.array(z.unknown()),
        findingsOmitted: count.optional(),
        error: z.string().optional(),
      }),
    ),
  }),
  z.looseObject({
    command: z.literal('audit'),
    options: z.looseObject({}),
    audits: z.array(
      z.looseObject({
        index,
        replay: z.looseObject({ diverged: count, error: z.string().optional() }),
        violations: z.array(z.unknown()),
        leaks: z.array(z.unknown()),
      }),
    ),
  }),
  z.looseObject({
    command: z.literal('fuzz'),
    seed: index,
    options: z.looseObject({ runs: index }),
    runSteps: z.array(index),
    counterexample: z.nullable(z.looseObject({ run: index, shrinkRuns: index, shrinkSteps: index, file: z.string() })),
  }),
]);
const PART = z.intersection(
  SHAPE,
  z.looseObject({ shard: z.object({ index: z.int().min(1), count: z.int().min(1) }), units: index, options: z.looseObject({}) }),
);

interface Input {
  readonly name: string;
  readonly part: Part;
}

function refuse(message: string): never {
  throw new Error(`[iommufd-model] merge: ${message}`);
}

function read(file: string): Input {
  const name = clip(file, Infinity);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e: unknown) {
    refuse(`cannot read ${name}: ${errorCode(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    refuse(`${name}: not JSON`);
  }
  // The report itself is kept, not what the schema parses it into: keys keep their order.
  if (!PART.safeParse(json).success || (json as Part).shard.index > (json as Part).shard.count) {
    refuse(`${name}: not the --json report of a shard (--shard I/N) of replay, audit or fuzz`);
  }
  return { name, part: json as Part };
}

/** JSON with keys sorted: two reports' options compare equal whatever order their keys came in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/** What must be the same in every shard of one run. */
const IDENTITY: readonly [string, (p: Part) => unknown][] = [
  ['command', (p) => p.command],
  ['seed', (p) => (p.command === 'fuzz' ? p.seed : null)],
  ['options', (p) => p.options],
  ['number of units', (p) => p.units],
];

function checkTogether(inputs: readonly Input[]): void {
  const [first, ...rest] = inputs as [Input, ...Input[]];
  for (const other of rest) {
    for (const [what, of] of IDENTITY) {
      if (canonical(of(other.part)) !== canonical(of(first.part))) {
        refuse(`${other.name} and ${first.name} are not shards of one run: not the same ${what}`);
      }
    }
    if (other.part.shard.count !== first.part.shard.count) {
      refuse(`${other.name} and ${first.name} overlap: shards ${showShard(other.part.shard)} and ${showShard(first.part.shard)} split the units differently`);
    }
  }
  const byIndex = new Map<number, Input>();
  for (const input of inputs) {
    const same = byIndex.get(input.part.shard.index);
    if (same !== undefined) refuse(`${input.name} and ${same.name} overlap: both are shard ${showShard(input.part.shard)}`);
    byIndex.set(input.part.shard.index, input);
  }
  const count = first.part.shard.count;
  for (let i = 1; i <= count; i++) if (!byIndex.has(i)) refuse(`shard ${i}/${count} is missing`);
}

/** The units a part reports are its shard's: every one (a campaign: up to its first failing run). */
function checkUnits({ name, part }: Input): void {
  const expected = shardUnits(part.units, part.shard);
  const where = `${name}: its units are not those of shard ${showShard(part.shard)} of ${part.units}`;
  if (part.command === 'fuzz') {
    const made = part.runSteps.length;
    const c = part.counterexample;
    if (c === null ? made !== expected.length : made === 0 || c.run !== expected[made - 1]) refuse(where);
    return;
  }
  const indices = (part.command === 'replay' ? part.traces : part.audits).map((u) => u.index);
  if (indices.length !== expected.length || indices.some((u, k) => u !== expected[k])) refuse(where);
}

/** The units of all parts, in the order of one run, without their index. */
function inOrder<T extends object>(units: readonly Indexed<T>[]): T[] {
  return [...units].sort((a, b) => a.index - b.index).map(({ index: _, ...unit }) => unit as unknown as T);
}

/**
 * The campaign's runs in order, each from the shard that made it. `tally` stops at the first
 * failing one, before any run a shard did not make (a shard stops at its own first failure).
 */
function* fuzzRuns(parts: readonly FuzzPart[], runs: number): Generator<{ steps: number; counterexample: ReportedCounterexample | null }> {
  const count = parts.length;
  for (let run = 0; run < runs; run++) {
    const part = parts[run % count] as FuzzPart;
    const steps = part.runSteps[Math.floor(run / count)];
    if (steps === undefined) throw new Error(`[iommufd-model] merge: no shard made run ${run}`);
    yield { steps, counterexample: part.counterexample?.run === run ? part.counterexample : null };
  }
}

export function mergeReports(files: readonly string[]): Merged {
  const inputs = files.map(read);
  checkTogether(inputs);
  inputs.forEach(checkUnits);
  const parts = inputs.map((i) => i.part).sort((a, b) => a.shard.index - b.shard.index);
  const first = parts[0] as Part;
  switch (first.command) {
    case 'replay': {
      const traces = inOrder<TraceReport>((parts as ReplayPart[]).flatMap((p) => p.traces));
      const report = replayReport(traces, (first.options as { invariants: boolean }).invariants);
      return { command: 'replay', report, exitCode: exitCode(report) };
    }
    case 'audit': {
      const audits = inOrder<AuditReport>((parts as AuditPart[]).flatMap((p) => p.audits));
      return { command: 'audit', audits, exitCode: auditExitCode(audits) };
    }
    case 'fuzz': {
      const result = tally(fuzzRuns(parts as FuzzPart[], first.units));
      const report = fuzzReport(first.seed, first.options, WHOLE, result);
      return { command: 'fuzz', report, exitCode: report.counterexample === null ? 0 : 1 };
    }
  }
}
