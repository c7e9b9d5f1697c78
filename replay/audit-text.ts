/** The audit as a terminal reads it: peaks per target, type1 comparison, leaks, violations. */
import { clip } from '../events/quote.ts';
import type { AuditReport } from './audit.ts';

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
  const c = a.comparison;
  const ratio = c.iommufdPeak === 0 ? '' : ` (type1 charges ${(c.type1Peak / c.iommufdPeak).toFixed(2)}x)`;
  out.push(`  iommufd vs VFIO type1, pinned pages of all processes: peak ${c.iommufdPeak} vs ${c.type1Peak}${ratio}; at the end ${c.iommufdFinal} vs ${c.type1Final}`);
  out.push(a.leaks.length === 0 ? '  leaks: none' : `  leaks (charged with every iommufd closed): ${a.leaks.map((l) => `${l.target} ${l.pages}`).join(', ')}`);
  if (a.leaks.length === 0 && a.remaining.length > 0) {
    out.push(`  still charged at the end (contexts open): ${a.remaining.map((l) => `${l.target} ${l.pages}`).join(', ')}`);
  }
  out.push(`  invariant violations: ${a.violations.length}`);
  for (const v of a.violations) out.push(`    line ${v.line} ${v.op}: ${v.invariant}: ${v.detail}`);
  return out.join('\n');
}
