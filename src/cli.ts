#!/usr/bin/env node
/**
 * The `iommufd-model` command. A shell around the pure model: it reads files, prints reports
 * and sets the exit code; bad input is one line on stderr and exit 2, never a stack trace.
 */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { writeFileSync } from 'node:fs';
import { auditFile } from '../replay/audit.ts';
import { renderAuditHtml } from '../replay/audit-html.ts';
import { formatAuditText } from '../replay/audit-text.ts';
import { exitCode, replayFiles } from '../replay/replay-file.ts';
import { formatTextReport } from '../replay/text-report.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command()
  .name('iommufd-model')
  .description('A reference model of the Linux iommufd user API')
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

program
  .command('replay')
  .description('replay traces against the model and report every divergence')
  .argument('<files...>', 'trace files (JSON Lines, trace format v1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--own-choices', 'adopt no recorded free choice (ids, fds, IOVAs, addresses); compare them all')
  .option('--invariants', "check the model's invariants after every event")
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .action(async (files, opts) => {
    const report = await replayFiles(files, {
      ownChoices: opts.ownChoices === true,
      invariants: opts.invariants === true,
      maxLineBytes: opts.maxLineBytes,
    });
    if (opts.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatTextReport(report)}\n`);
    for (const t of report.traces) if (t.error !== undefined) process.stderr.write(`${t.error}\n`);
    process.exitCode = exitCode(report);
  });

program
  .command('audit')
  .description('replay traces and report pinned-memory accounting: charges over time, peaks, leaks, invariants, VFIO type1 comparison')
  .argument('<files...>', 'trace files (JSON Lines, trace format v1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--html <file>', 'also write a self-contained HTML report (one trace: that file; several: one per trace, numbered)')
  .option('--own-choices', 'adopt no recorded free choice; compare them all')
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .action(async (files, opts) => {
    const audits = [];
    for (const file of files) {
      audits.push(await auditFile(file, { ownChoices: opts.ownChoices === true, maxLineBytes: opts.maxLineBytes }));
    }
    if (opts.html !== undefined) {
      audits.forEach((a, i) => writeFileSync(audits.length === 1 ? (opts.html as string) : numbered(opts.html as string, i + 1), renderAuditHtml(a)));
    }
    if (opts.json === true) process.stdout.write(`${JSON.stringify({ audits })}\n`);
    else process.stdout.write(`${audits.map(formatAuditText).join('\n')}\n`);
    for (const a of audits) if (a.replay.error !== undefined) process.stderr.write(`${a.replay.error}\n`);
    process.exitCode = exitCode({
      traces: audits.map((a) => a.replay),
      totals: {
        events: 0,
        ok: 0,
        ran: 0,
        unsupported: 0,
        unsure_diverged: 0,
        diverged: audits.reduce((n, a) => n + a.replay.diverged, 0),
        violations: audits.reduce((n, a) => n + a.violations.length + a.leaks.length, 0),
      },
    });
  });

/** `out.html` → `out-2.html` for the second of several reports. */
function numbered(path: string, n: number): string {
  const dot = path.lastIndexOf('.');
  return dot > 0 ? `${path.slice(0, dot)}-${n}${path.slice(dot)}` : `${path}-${n}`;
}

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`iommufd-model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
