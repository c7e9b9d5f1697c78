/**
 * The readable replay report: each divergence with line (and capture line), seq, op, expected and
 * actual (and, explained, the state its event named), the invariant violations, the kernel quirks
 * and the findings (crashes of the release followed) under their own headings, then a summary.
 */
import { clip } from '../events/quote.ts';
import { explanationLines } from './inspect/explain-text.ts';
import type { Counts, FindingRecord } from './replayer.ts';
import { type ReplayReport, findingCount, quirkCount, violationCount } from './replay-file.ts';
import { RELEASE_BUGS, releaseSpan } from '../src/kernel/release-bugs.ts';

/** `violations`: present with `--invariants`. */
const counts = (c: Counts, violations: number | undefined, quirks: number, findings: number): string =>
  `${c.events} events: ${c.ok} ok, ${c.diverged} diverged, ${c.ran} ran${c.unknown > 0 ? `, ${c.unknown} unknown` : ''}, ${c.unsupported} unsupported` +
  (c.unsure_diverged > 0 ? `, ${c.unsure_diverged} unsure diverged` : '') +
  (violations === undefined ? '' : `, ${violations} invariant violations`) +
  (quirks > 0 ? `, ${quirks} kernel quirks` : '') +
  (findings > 0 ? `, ${findings} findings` : '');

/** What the kernel logged for the bug a finding names. */
const logged = (bug: string): string => RELEASE_BUGS.find((b) => b.name === bug)?.crash?.report ?? bug;

const where = (f: { line: number; seq: number | null; op: string }): string => `line ${f.line}${f.seq === null ? '' : ` seq ${f.seq}`} ${f.op}`;

/** A finding on one line: where, the bug, what the kernel logged, in which releases, fixed by what. */
export const findingText = (f: FindingRecord): string => `${where(f)}: ${f.bug}: ${logged(f.bug)} in ${releaseSpan(f.releases)}, fixed by ${f.fixed_by}`;

export function formatTextReport(report: ReplayReport): string {
  const lines: string[] = [];
  for (const t of report.traces) {
    lines.push(`${clip(t.file, Infinity)}: ${counts(t, t.violations === undefined ? undefined : violationCount(t), quirkCount(t), findingCount(t))}`);
    for (const d of t.divergences) {
      const seq = d.seq === null ? '' : ` seq ${d.seq}`;
      const unsure = d.unsure ? ' (unsure)' : '';
      const check = d.check === undefined ? '' : ` [${d.check}]`;
      const source = d.source_line === undefined ? '' : ` (capture line ${d.source_line})`;
      lines.push(`  line ${d.line}${source}${seq} ${d.op}${unsure}: expected ${JSON.stringify(d.expected)}, actual ${JSON.stringify(d.actual)}${check}`);
      if (d.note !== undefined) lines.push(`    ${d.note}`);
      if (d.explain !== undefined) lines.push(...explanationLines(d.explain, 2));
    }
    if (t.divergencesOmitted !== undefined) lines.push(`  ... ${t.divergencesOmitted} more divergences not listed (--max-divergences)`);
    for (const v of t.violations ?? []) lines.push(`  ${where(v)}: invariant ${v.invariant} violated: ${v.detail}`);
    if (t.violationsOmitted !== undefined) lines.push(`  ... ${t.violationsOmitted} more invariant violations not listed (--max-findings)`);
    if (quirkCount(t) > 0) {
      // The model doing what the kernel does: told apart from the violations, and no failure.
      lines.push('  kernel quirks (the kernel does this too; not a failure):');
      for (const q of t.quirks) lines.push(`    ${where(q)}: ${q.quirk}: ${q.detail}`);
      if (t.quirksOmitted !== undefined) lines.push(`    ... ${t.quirksOmitted} more kernel quirks not listed (--max-findings)`);
    }
    if (findingCount(t) > 0) {
      // A crash of the release the trace was judged as: the event that set it off, not a failure.
      lines.push('  findings (the release crashed or WARNed here; not a failure):');
      for (const f of t.findings) lines.push(`    ${findingText(f)}`);
      if (t.findingsOmitted !== undefined) lines.push(`    ... ${t.findingsOmitted} more findings not listed (--max-findings)`);
    }
    if (t.error !== undefined) lines.push(`  stopped: ${t.error}`);
  }
  if (report.traces.length > 1) lines.push(`total: ${report.traces.length} traces, ${counts(report.totals, report.totals.violations, report.totals.quirks ?? 0, report.totals.findings ?? 0)}`);
  return lines.join('\n');
}
