#!/usr/bin/env node
/**
 * The `iommufd-model` command. A shell around the pure model: it reads files, prints reports
 * and sets the exit code; bad input is one line on stderr and exit 2, never a stack trace.
 */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from './package-version.ts';
import { BUG_NAMES, type BugName, bugSet } from './model/mutants.ts';

// Each command imports what only it needs when it runs (the fuzzer pulls in fast-check, the audit
// its HTML renderer and uPlot): a short `replay` would otherwise spend most of its time loading them.

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** `--bugs a,b`: deliberate bugs of the model to switch on (`BUGS` in src/model/mutants.ts). */
function bugList(value: string): ReadonlySet<BugName> {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(BUG_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new InvalidArgumentError(`no bug named ${unknown.join(', ')}; known: ${BUG_NAMES.join(', ')}`);
  return bugSet(names);
}

const BUGS_HELP = 'comma-separated deliberate bugs to switch on in the model (for measuring a checker; default none)';

const program = new Command()
  .name('iommufd-model')
  .description('A reference model of the Linux iommufd user API')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

program
  .command('replay')
  .description('replay traces against the model and report every divergence')
  .argument('<files...>', 'trace files (JSON Lines, trace format 1 or 1.1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--own-choices', 'adopt no recorded free choice (ids, fds, IOVAs, addresses); compare them all')
  .option('--invariants', "check the model's invariants after every event (what the event changed)")
  .option('--invariants-full', 'like --invariants, but check the whole state after every event (slow; the reference check)')
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .option('--bugs <list>', BUGS_HELP, bugList)
  .action(async (files, opts) => {
    const [{ exitCode, replayFiles }, { formatTextReport }] = await Promise.all([
      import('../replay/replay-file.ts'),
      import('../replay/text-report.ts'),
    ]);
    const report = await replayFiles(files, {
      ownChoices: opts.ownChoices === true,
      invariants: opts.invariants === true || opts.invariantsFull === true,
      invariantsFull: opts.invariantsFull === true,
      maxLineBytes: opts.maxLineBytes,
      ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
    });
    if (opts.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatTextReport(report)}\n`);
    for (const t of report.traces) if (t.error !== undefined) process.stderr.write(`${t.error}\n`);
    process.exitCode = exitCode(report);
  });

program
  .command('audit')
  .description('replay traces and report pinned-memory accounting: charges over time, peaks, leaks, invariants, VFIO type1 comparison')
  .argument('<files...>', 'trace files (JSON Lines, trace format 1 or 1.1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--html <file>', 'also write a self-contained HTML report (one trace: that file; several: one per trace, numbered)')
  .option('--own-choices', 'adopt no recorded free choice; compare them all')
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .option('--bugs <list>', BUGS_HELP, bugList)
  .action(async (files, opts) => {
    const [{ auditFile }, { formatAuditText }, { exitCode }] = await Promise.all([
      import('../replay/audit.ts'),
      import('../replay/audit-text.ts'),
      import('../replay/replay-file.ts'),
    ]);
    const audits = [];
    for (const file of files) {
      audits.push(
        await auditFile(file, {
          ownChoices: opts.ownChoices === true,
          maxLineBytes: opts.maxLineBytes,
          ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
        }),
      );
    }
    if (opts.html !== undefined) {
      const { renderAuditHtml } = await import('../replay/audit-html.ts');
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

program
  .command('fuzz')
  .description('generate command sequences, check every invariant after every step, shrink a failure to a minimal trace')
  .option('--seed <n>', 'fast-check seed (default: from the clock; printed either way)', integer)
  .option('--runs <n>', 'command sequences to try', positiveInt, 100)
  .option('--max-steps <n>', 'commands per sequence, at most', positiveInt, 200)
  .option('--out <dir>', 'where to write a counterexample trace', '.')
  .option('--ops <list>', 'comma-separated ops to generate (default: all)')
  .option('--path <path>', "replay one failure: fast-check's path printed with it")
  .option('--no-faults', 'skip the fail_nth injection reruns')
  .option('--bugs <list>', BUGS_HELP, bugList)
  .action(async (opts) => {
    const { fuzz } = await import('./fuzz/fuzz.ts');
    const seed = opts.seed ?? Date.now() % 2 ** 31;
    const ops = opts.ops?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    process.stdout.write(`fuzz: seed ${seed}, ${opts.runs} runs of up to ${opts.maxSteps} steps${ops === undefined ? '' : `, ops ${ops.join(',')}`}\n`);
    const bar = process.stderr.isTTY ? await progressBar() : null;
    bar?.start(opts.runs, 0);
    const started = performance.now();
    const result = fuzz({
      seed,
      runs: opts.runs,
      maxSteps: opts.maxSteps,
      faultInjection: opts.faults !== false,
      ...(ops === undefined ? {} : { ops }),
      ...(opts.path === undefined ? {} : { path: opts.path }),
      ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
      onRun: () => bar?.increment(),
    });
    bar?.stop();
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`fuzz: ${result.runs} runs, ${result.steps} steps in ${seconds.toFixed(1)} s (${Math.round(result.steps / seconds)} steps/s)\n`);
    const found = result.counterexample;
    if (found === null) {
      process.stdout.write('fuzz: no invariant violated\n');
      return;
    }
    mkdirSync(opts.out, { recursive: true });
    const file = join(opts.out, `counterexample-${found.seed}.jsonl`);
    writeFileSync(file, found.trace);
    process.stdout.write(
      `fuzz: ${found.message}\n` +
        `fuzz: shrunk to ${found.shrunkSteps} commands; seed ${found.seed}, path ${found.path}\n` +
        `fuzz: wrote ${file}; replay it with: iommufd-model replay --invariants${found.bugs.length === 0 ? '' : ` --bugs ${found.bugs.join(',')}`} ${file}\n`,
    );
    process.exitCode = 1;
  });

async function progressBar() {
  const { Presets, SingleBar } = await import('cli-progress');
  return new SingleBar({ format: 'fuzz [{bar}] {value}/{total} runs | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic);
}

/** `out.html` → `out-2.html` for the second of several reports. */
function numbered(path: string, n: number): string {
  const dot = path.lastIndexOf('.');
  return dot > 0 ? `${path.slice(0, dot)}-${n}${path.slice(dot)}` : `${path}-${n}`;
}

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`iommufd-model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
