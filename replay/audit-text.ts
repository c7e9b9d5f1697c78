/** The audit as a terminal reads it: peaks per target, the three accountings side by side, leaks, violations, kernel quirks, findings. */
import { clip } from '../events/quote.ts';
import { ACCOUNTINGS } from './audit-ledgers.ts';
import type { AuditReport, PeakFinal } from './audit.ts';
import { findingText } from './text-report.ts';

const HEADING = { iommufd: 'iommufd', type1: 'VFIO type1', spapr: 'SPAPR TCE' };

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function preregUse(p: AuditReport['accountings']['preregistered'][number]): string {
  return p.mappings === 0 ? 'never mapped' : `used by up to ${plural(p.mappings, 'mapping')} in ${plural(p.windows, 'window')} at once`;
}

/** The accountings, per process and for all: a column each, peak / at the end, marked actual or yardstick. */
function accountingsTable(a: AuditReport): string[] {
  const { actual, processes, total } = a.accountings;
  const cell = (c: PeakFinal) => `${c.peak} / ${c.final}`;
  const rows = [
    ['', ...ACCOUNTINGS.map((k) => `${HEADING[k]} (${actual.includes(k) ? 'actual' : 'yardstick'})`)],
    ...processes.map((p) => [`pid ${p.pid}`, ...ACCOUNTINGS.map((k) => cell(p[k]))]),
    ...(processes.length > 1 ? [['all', ...ACCOUNTINGS.map((k) => cell(total[k]))]] : []),
  ];
  const widths = ACCOUNTINGS.map((_, i) => Math.max(...rows.map((r) => (r[i + 1] as string).length)));
  const first = Math.max(...rows.map((r) => (r[0] as string).length));
  return [
    '  the workload under each accounting, pages per process (peak / at the end):',
    ...rows.map((r) => `    ${(r[0] as string).padEnd(first)}  ${r.slice(1).map((c, i) => c.padStart(widths[i] as number)).join('  ')}`.trimEnd()),
    ...a.accountings.preregistered.map((p) => `  SPAPR pre-registration, pid ${p.pid}: ${p.pages} pages charged once, ${preregUse(p)}`),
  ];
}

function size(pages: number, pageSize: number): string {
  const bytes = pages * pageSize;
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(2)} MiB`;
  return `${bytes / 1024} KiB`;
}

export function formatAuditText(a: AuditReport): string {
  const r = a.replay;
  const out: string[] = [];
  out.push(`${clip(a.file, Infinity)}: ${r.events} events: ${r.ok} ok, ${r.diverged} diverged, ${r.ran} ran, ${r.unsupported} unsupported`);
  if (r.error !== undefined) out.push(`  stopped: ${r.error}`);
  out.push('  charged pages per target (peak, where, at the end):');
  const width = Math.max(0, ...a.series.map((s) => s.target.length));
  for (const s of a.series) {
    const end = s.values[s.values.length - 1] ?? 0;
    const where = s.peak === 0 ? '' : ` at line ${s.peakLine}`;
    out.push(`    ${s.target.padEnd(width)}  peak ${String(s.peak).padStart(8)} (${size(s.peak, a.pageSize)})${where}, end ${end}`);
  }
  out.push(...accountingsTable(a));
  out.push(a.leaks.length === 0 ? '  leaks: none' : `  leaks (charged with every iommufd and VFIO container closed): ${a.leaks.map((l) => `${l.target} ${l.pages}`).join(', ')}`);
  if (a.leftByQuirks.length > 0) {
    out.push(`  left charged by kernel quirks (the kernel leaves them too; not a leak): ${a.leftByQuirks.map((q) => `${q.target} ${q.pages} (${q.quirk})`).join(', ')}`);
  }
  if (a.leaks.length === 0 && a.leftByQuirks.length === 0 && a.remaining.length > 0) {
    out.push(`  still charged at the end (contexts or containers open): ${a.remaining.map((l) => `${l.target} ${l.pages}`).join(', ')}`);
  }
  out.push(`  invariant violations: ${a.violations.length}`);
  for (const v of a.violations) out.push(`    line ${v.line} ${v.op}: ${v.invariant}: ${v.detail}`);
  const omitted = a.replay.quirksOmitted ?? 0;
  if (a.quirks.length + omitted > 0) {
    out.push(`  kernel quirks (the kernel does this too; not a failure): ${a.quirks.length + omitted}`);
    for (const q of a.quirks) out.push(`    line ${q.line} ${q.op}: ${q.quirk}: ${q.detail}`);
    if (omitted > 0) out.push(`    ... ${omitted} more not listed`);
  }
  const findingsOmitted = a.replay.findingsOmitted ?? 0;
  if (a.replay.findings.length + findingsOmitted > 0) {
    out.push(`  findings (the release crashed or WARNed here; not a failure): ${a.replay.findings.length + findingsOmitted}`);
    for (const f of a.replay.findings) out.push(`    ${findingText(f)}`);
    if (findingsOmitted > 0) out.push(`    ... ${findingsOmitted} more not listed`);
  }
  return out.join('\n');
}
