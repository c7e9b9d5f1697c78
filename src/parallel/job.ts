/**
 * A job split into units, and what makes one unit: replay one trace file (under one release or
 * every one) or audit it, make one fuzz run. Worker threads and the command running alone make units the same way. A job is
 * plain data, handed to each worker as it starts (a structured clone keeps the bug sets).
 */
import type { AuditOptions, AuditReport } from '../../replay/audit.ts';
import type { EnvelopeOptions, EnvelopeTrace } from '../../replay/envelope.ts';
import type { FileOptions, TraceReport } from '../../replay/replay-file.ts';
import type { CampaignOptions, RunOutcome } from '../fuzz/fuzz.ts';

export interface ReplayJob {
  readonly kind: 'replay';
  /** Every file of the command line: a unit is an index into them. */
  readonly files: readonly string[];
  readonly options: FileOptions;
}

/** `replay --kernel all`: a unit is a trace file replayed under every release. */
export interface EnvelopeJob {
  readonly kind: 'envelope';
  readonly files: readonly string[];
  readonly options: EnvelopeOptions;
}

export interface AuditJob {
  readonly kind: 'audit';
  readonly files: readonly string[];
  readonly options: AuditOptions;
}

export interface FuzzJob {
  readonly kind: 'fuzz';
  /** A unit is a run index. */
  readonly campaign: CampaignOptions;
  /** `--path`: the failure of the (one) run to go straight to. */
  readonly path?: string;
}

export type Job = ReplayJob | EnvelopeJob | AuditJob | FuzzJob;

export type UnitResult<J extends Job> = J extends ReplayJob ? TraceReport : J extends EnvelopeJob ? EnvelopeTrace : J extends AuditJob ? AuditReport : RunOutcome;

/** Makes one unit; `tick` is called as each fuzz run ends, shrinking runs included. */
export type MakeUnit<R> = (unit: number, tick: () => void) => Promise<R>;

/** Loads what the job's units need (each command its own modules) and gives the maker of a unit. */
export async function unitMaker<J extends Job>(job: J): Promise<MakeUnit<UnitResult<J>>> {
  return (await makerOf(job)) as MakeUnit<UnitResult<J>>;
}

async function makerOf(job: Job): Promise<MakeUnit<TraceReport | EnvelopeTrace | AuditReport | RunOutcome>> {
  switch (job.kind) {
    case 'replay': {
      const { replayFile } = await import('../../replay/replay-file.ts');
      return (unit) => replayFile(job.files[unit] as string, job.options);
    }
    case 'envelope': {
      const { envelopeFile } = await import('../../replay/envelope.ts');
      return (unit) => envelopeFile(job.files[unit] as string, job.options);
    }
    case 'audit': {
      const { auditFile } = await import('../../replay/audit.ts');
      return (unit) => auditFile(job.files[unit] as string, job.options);
    }
    case 'fuzz': {
      const { Campaign } = await import('../fuzz/fuzz.ts');
      const campaign = new Campaign(job.campaign);
      return (unit, tick) => Promise.resolve(campaign.run(unit, { onRun: tick, ...(job.path === undefined ? {} : { path: job.path }) }));
    }
  }
}
