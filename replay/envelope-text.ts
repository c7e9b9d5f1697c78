/**
 * The readable envelope report (`replay --kernel all`): per trace, the releases it is consistent
 * with as ranges, each event the releases answer differently with the releases that answer as
 * the capture does and each distinct answer with its releases (those only releases already
 * diverged answer differently counted), and where each release not consistent first diverged;
 * then what all the traces are consistent with.
 */
import { clip } from '../events/quote.ts';
import type { Disagreement, EnvelopeReport, EnvelopeTrace } from './envelope.ts';

/**
 * `releases` as ranges of `all` (oldest first): `6.6–6.9, 6.12`; `no release` when empty. A
 * range is releases next to each other in `all`, so a gap in `releases` ends it.
 */
export function releaseRanges(releases: readonly string[], all: readonly string[]): string {
  const ranges: string[] = [];
  let start = -1;
  for (let i = 0; i <= all.length; i++) {
    const inside = i < all.length && releases.includes(all[i] as string);
    if (inside && start < 0) start = i;
    if (!inside && start >= 0) {
      ranges.push(start === i - 1 ? (all[start] as string) : `${all[start]}–${all[i - 1]}`);
      start = -1;
    }
  }
  return ranges.length === 0 ? 'no release' : ranges.join(', ');
}

const where = (f: { line: number; seq: number | null; op: string; source_line?: number }): string =>
  `line ${f.line}${f.source_line === undefined ? '' : ` (capture line ${f.source_line})`}${f.seq === null ? '' : ` seq ${f.seq}`} ${f.op}`;

function disagreementLines(d: Disagreement, all: readonly string[]): string[] {
  const capture = d.agree === null ? 'no expectation' : `expected ${JSON.stringify(d.expected)}, as ${releaseRanges(d.agree, all)}`;
  return [
    `  ${where(d)}: ${capture}`,
    ...d.results.map((g) => `    ${releaseRanges(g.releases, all)}: ${g.outcome}${g.actual === undefined ? '' : ` ${JSON.stringify(g.actual)}`}`),
  ];
}

function traceLines(t: EnvelopeTrace, all: readonly string[]): string[] {
  const events = t.releases[0]?.events ?? 0;
  const lines = [`${clip(t.file, Infinity)}: ${events} events, consistent with ${releaseRanges(t.consistent, all)}`];
  const count = t.disagreements.length + (t.disagreementsOmitted ?? 0);
  if (count > 0) lines.push(`  releases answer ${count} events differently:`);
  for (const d of t.disagreements) lines.push(...disagreementLines(d, all));
  if (t.disagreementsOmitted !== undefined) lines.push(`  ... ${t.disagreementsOmitted} more events answered differently not listed (--max-divergences)`);
  if (t.followOn > 0) lines.push(`  ${t.followOn} more events answered differently only by releases already diverged`);
  for (const f of t.findings) lines.push(`  ${where(f)}: finding under ${releaseRanges(f.releases, all)}: ${f.bug}, fixed by ${f.fixed_by}`);
  // Releases that diverged alike (as many events, the first the same) share a line.
  const alike = new Map<string, string[]>();
  for (const r of t.releases) {
    if (r.firstDivergence === undefined) continue;
    const said = `${r.diverged} diverged, the first at ${where(r.firstDivergence)}`;
    alike.set(said, [...(alike.get(said) ?? []), r.release]);
  }
  for (const [said, releases] of alike) lines.push(`  ${releaseRanges(releases, all)}: ${said}`);
  if (t.error !== undefined) lines.push(`  stopped: ${t.error}`);
  return lines;
}

export function formatEnvelopeText(report: EnvelopeReport): string {
  const lines = report.traces.flatMap((t) => traceLines(t, report.releases));
  if (report.traces.length > 1) {
    const { traces, consistent, inconsistent } = report.totals;
    lines.push(`total: ${traces} traces, consistent together with ${releaseRanges(consistent, report.releases)}${inconsistent > 0 ? `; ${inconsistent} consistent with no release` : ''}`);
  }
  return lines.join('\n');
}
