/** The readable replay report: each divergence with line (and capture line), seq, op, expected and actual, then a summary. */
import { clip } from '../events/quote.ts';
import type { Counts } from './replayer.ts';
import type { ReplayReport } from './replay-file.ts';

const counts = (c: Counts & { violations?: number | readonly unknown[] }): string =>
  `${c.events} events: ${c.ok} ok, ${c.diverged} diverged, ${c.ran} ran${c.unknown > 0 ? `, ${c.unknown} unknown` : ''}, ${c.unsupported} unsupported` +
  (c.unsure_diverged > 0 ? `, ${c.unsure_diverged} unsure diverged` : '') +
  (c.violations === undefined ? '' : `, ${typeof c.violations === 'number' ? c.violations : c.violations.length} invariant violations`);

export function formatTextReport(report: ReplayReport): string {
  const lines: string[] = [];
  for (const t of report.traces) {
    lines.push(`${clip(t.file, Infinity)}: ${counts(t)}`);
    for (const d of t.divergences) {
      const seq = d.seq === null ? '' : ` seq ${d.seq}`;
      const unsure = d.unsure ? ' (unsure)' : '';
      const check = d.check === undefined ? '' : ` [${d.check}]`;
      const source = d.source_line === undefined ? '' : ` (capture line ${d.source_line})`;
      lines.push(`  line ${d.line}${source}${seq} ${d.op}${unsure}: expected ${JSON.stringify(d.expected)}, actual ${JSON.stringify(d.actual)}${check}`);
      if (d.note !== undefined) lines.push(`    ${d.note}`);
    }
    if (t.divergencesOmitted !== undefined) lines.push(`  ... ${t.divergencesOmitted} more divergences not listed (--max-divergences)`);
    for (const v of t.violations ?? []) {
      const seq = v.seq === null ? '' : ` seq ${v.seq}`;
      lines.push(`  line ${v.line}${seq} ${v.op}: invariant ${v.invariant} violated: ${v.detail}`);
    }
    if (t.error !== undefined) lines.push(`  stopped: ${t.error}`);
  }
  if (report.traces.length > 1) lines.push(`total: ${report.traces.length} traces, ${counts(report.totals)}`);
  return lines.join('\n');
}
