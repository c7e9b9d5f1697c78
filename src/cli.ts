#!/usr/bin/env node
/**
 * The `iommufd-model` command. A shell around the pure model: it reads files, prints reports
 * and sets the exit code; bad input is one line on stderr and exit 2, never a stack trace.
 */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
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
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .action(async (files, opts) => {
    const report = await replayFiles(files, { ownChoices: opts.ownChoices === true, maxLineBytes: opts.maxLineBytes });
    if (opts.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatTextReport(report)}\n`);
    for (const t of report.traces) if (t.error !== undefined) process.stderr.write(`${t.error}\n`);
    process.exitCode = exitCode(report);
  });

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`iommufd-model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
