/**
 * The report of a shard (`--shard I/N --json`): the report the command prints for its units,
 * plus what a merge needs to check that shards belong together and to put their units back in
 * order: the command, the options (and a campaign's seed), the shard, the number of units of
 * the whole run, and each unit's index in it (a trace's position on the command line; a fuzz
 * run's index).
 */
import type { AuditReport } from '../../replay/audit.ts';
import type { ReplayReport, TraceReport } from '../../replay/replay-file.ts';
import type { FuzzReport } from '../fuzz/fuzz-report.ts';
import type { Shard } from './shard.ts';

/** What every part carries besides its report. */
export interface PartOf {
  readonly options: unknown;
  readonly shard: Shard;
  /** The units of the whole run: the files given, or the runs of the campaign. */
  readonly units: number;
}

export type Indexed<T> = T & { readonly index: number };

export interface ReplayPart extends PartOf {
  readonly command: 'replay';
  readonly traces: readonly Indexed<TraceReport>[];
  readonly totals: ReplayReport['totals'];
}

export interface AuditPart extends PartOf {
  readonly command: 'audit';
  readonly audits: readonly Indexed<AuditReport>[];
}

export interface FuzzPart extends FuzzReport {
  readonly units: number;
  /** The steps of each run of the shard made, in order, the failing one last (shrinking apart). */
  readonly runSteps: readonly number[];
}

export type Part = ReplayPart | AuditPart | FuzzPart;

const indexed = <T extends object>(items: readonly T[], indices: readonly number[]): Indexed<T>[] =>
  items.map((item, k) => ({ index: indices[k] as number, ...item }));

/** `indices`: the unit index of each trace, in order. */
export function replayPart(report: ReplayReport, indices: readonly number[], of: PartOf): ReplayPart {
  return { command: 'replay', options: of.options, shard: of.shard, units: of.units, traces: indexed(report.traces, indices), totals: report.totals };
}

export function auditPart(audits: readonly AuditReport[], indices: readonly number[], of: PartOf): AuditPart {
  return { command: 'audit', options: of.options, shard: of.shard, units: of.units, audits: indexed(audits, indices) };
}

/** `units`: the campaign's runs. */
export function fuzzPart(report: FuzzReport, units: number, runSteps: readonly number[]): FuzzPart {
  return { ...report, units, runSteps };
}
