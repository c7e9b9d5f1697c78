#!/usr/bin/env node
/**
 * The `iommufd-model` command. A shell around the pure model: it reads files, prints reports
 * and sets the exit code; bad input is one line on stderr and exit 2, never a stack trace.
 */
import { Command, InvalidArgumentError, type OptionValues } from '@commander-js/extra-typings';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { clip } from '../events/quote.ts';
import type { AuditReport } from '../replay/audit.ts';
import type { ReplayReport } from '../replay/replay-file.ts';
import { errorCode, writableDirectory } from './cli-files.ts';
import { fail, guardOutput } from './cli-output.ts';
import type { FuzzReport } from './fuzz/fuzz-report.ts';
import { MAX_RUNS } from './fuzz/run-seed.ts';
import { packageVersion } from './package-version.ts';
import { BUG_NAMES, type BugName, bugSet } from './model/mutants.ts';
import { type Shard, WHOLE, parseShard, shardUnits } from './parallel/shard.ts';
import { CAPTURE_FORMATS, type CaptureFormat } from '../replay/import/formats.ts';
import { kernelList } from './kernel/list.ts';
import { readKernel } from './kernel/version.ts';

// Each command imports what only it needs when it runs (the fuzzer pulls in fast-check, the audit
// its HTML renderer and uPlot): a short `replay` would otherwise spend most of its time loading them.

/** fast-check seeds are 32-bit: a larger one would silently run as another seed. */
function seed(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(n <= 2 ** 32 - 1)) throw new InvalidArgumentError(`must be an integer from 0 to ${2 ** 32 - 1}`);
  return n;
}

function count(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Past 2^32 runs, a run would have the seed of another (src/fuzz/run-seed.ts). */
function runCount(value: string): number {
  const n = positiveInt(value);
  if (n > MAX_RUNS) throw new InvalidArgumentError(`must be at most ${MAX_RUNS}`);
  return n;
}

function runIndex(value: string): number {
  const n = count(value);
  if (n >= MAX_RUNS) throw new InvalidArgumentError(`must be below ${MAX_RUNS}`);
  return n;
}

/** The way to a fuzz failure, as printed with it: fast-check's path, then `@` and fc.commands' replay path (src/fuzz/fuzz.ts). */
function failurePath(value: string): string {
  if (!/^[0-9]+(:[0-9]+)*(@[A-Za-z0-9+/:]*)?$/.test(value)) throw new InvalidArgumentError('must be the path a fuzz failure printed, such as 0:4:1@AB:C');
  return value;
}

function shard(value: string): Shard {
  const s = parseShard(value);
  if (s === null) throw new InvalidArgumentError('must be I/N, the I-th of N shards, with 1 <= I <= N');
  return s;
}

function captureFormat(value: string): CaptureFormat {
  const format = CAPTURE_FORMATS.find((f) => f === value);
  if (format === undefined) throw new InvalidArgumentError(`must be one of ${CAPTURE_FORMATS.join(', ')}`);
  return format;
}

/** `--syz-data 0x20000000`: an address. */
function address(value: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value) || BigInt(value) >= 2n ** 64n) throw new InvalidArgumentError('must be an address (0x... or decimal) below 2^64');
  return BigInt(value);
}

/** `--bugs a,b`: deliberate bugs of the model to switch on (`BUGS` in src/model/mutants.ts). */
function bugList(value: string): ReadonlySet<BugName> {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(BUG_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new InvalidArgumentError(`no bug named ${unknown.join(', ')}; known: ${BUG_NAMES.join(', ')}`);
  return bugSet(names);
}

/**
 * `--kernel V`: the release whose behaviour the model follows (src/kernel/version.ts), over each
 * trace's `env.kernel`. `--kernel list` prints the releases and the rows each one brought, and
 * exits, as `--version` does.
 */
function kernelRelease(value: string): string {
  if (value === 'list') {
    process.stdout.write(kernelList());
    process.exit(0);
  }
  const read = readKernel(value);
  if ('error' in read) throw new InvalidArgumentError(read.error);
  if (read.warning !== null) process.stderr.write(`iommufd-model: --kernel ${read.warning}\n`);
  return read.release;
}

/** `replay --kernel all`: each file under every release (replay/envelope.ts). */
const ALL = 'all';
const kernelOrAll = (value: string): string => (value === ALL ? ALL : kernelRelease(value));

/** `--ops a,b`: the names; whether the fuzzer knows them is checked once it is loaded. */
function opList(value: string): string[] {
  const ops = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ops.length === 0) throw new InvalidArgumentError('names no op');
  return ops;
}

const BUGS_HELP = 'comma-separated deliberate bugs to switch on in the model (for measuring a checker; default none)';
const KERNEL_HELP = "the kernel release to follow (6.4, v6.4, 6.4.12, 6.4-rc3, a release tag's commit) over each trace's env.kernel; list: print the releases";
const KERNEL_ALL_HELP = `${KERNEL_HELP}; all: replay each file under every release and report the releases it is consistent with`;
const HEADER_HELP = 'a header JSON file giving what the capture cannot say (devices, rlimit, uid, kernel, /dev/vfio/vfio driver)';
const STRICT_HELP = 'an unreadable capture line is an error, not a warning';
const REPEAT_HELP = 'runs of a syzkaller program that repeats forever';
const SYZ_DATA_HELP = "a .syz program's data area at run time, when no C reproducer beside it says (default 0x200000000000)";
const JOIN_HELP = 'a kernel-side log of the same run (the host ftrace with iommu map/unmap events, dmesg) to join to the QEMU log; repeatable';

/** `--join a --join b`: each file, in order. */
const collect = (value: string, previous: readonly string[] | undefined): string[] => [...(previous ?? []), value];

/** The options `import` and the commands taking `--from` pass to the importer. */
const importOptions = (opts: { header?: string; strict?: true; repeat?: number; syzData?: bigint; kernel?: string; join?: readonly string[] }) => ({
  ...(opts.header === undefined ? {} : { header: opts.header }),
  ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
  strict: opts.strict === true,
  ...(opts.repeat === undefined ? {} : { repeat: opts.repeat }),
  ...(opts.syzData === undefined ? {} : { syzData: opts.syzData }),
  ...(opts.join === undefined ? {} : { join: opts.join }),
});

/** How the importer's options are introduced: in `import` itself, or after `--from` on a command that imports first. */
const IMPORTER_HELP = { import: { any: '', syz: 'syz: ', qemu: 'qemu: ' }, from: { any: 'with --from: ', syz: 'with --from syz: ', qemu: 'with --from qemu: ' } } as const;

/** The importer's own options: the one definition `import` and every command taking `--from` share. */
function importerOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>, within: keyof typeof IMPORTER_HELP) {
  const { any, syz, qemu } = IMPORTER_HELP[within];
  return command
    .option('--header <file>', `${any}${HEADER_HELP}`)
    .option('--strict', `${any}${STRICT_HELP}`)
    .option('--repeat <n>', `${syz}${REPEAT_HELP}`, positiveInt)
    .option('--syz-data <addr>', `${syz}${SYZ_DATA_HELP}`, address)
    .option('--join <file>', `${qemu}${JOIN_HELP}`, collect);
}

/** `--from FORMAT` and the importer's options after it: what `replay`, `inspect`, `diff` and `bisect` read is a capture, imported first. */
function fromCapture<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>, help: string) {
  return importerOptions(command.option('--from <format>', `${help} (${CAPTURE_FORMATS.join(', ')})`, captureFormat), 'from');
}
const MAX_DIVERGENCES_HELP = 'divergences listed per file, at most; the rest are counted';
const MAX_FINDINGS_HELP = 'invariant violations, kernel quirks, and findings (crashes of the release), listed per file, each at most; the rest are counted';
const JOBS_HELP = 'worker threads, at most (default: the number of cores; 1: none, all in this thread)';
const SHARD_HELP = 'make only every N-th unit from the I-th (1 <= I <= N); with --json, a report `merge` takes';

/** The worker threads' entry, built beside this file (dist/src/worker.js). */
const WORKER = new URL('./worker.js', import.meta.url);

const threads = (jobs: number | undefined): number => jobs ?? availableParallelism();

/** Options as a shard's report names them: one run's shards all name the same. */
const optionsJson = <O extends { readonly bugs?: ReadonlySet<BugName> }>(options: O) => ({ ...options, bugs: [...(options.bugs ?? [])].sort() });

guardOutput();

const program = new Command()
  .name('iommufd-model')
  .description('A reference model of the Linux iommufd user API')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  // Every error is one line and exit 2; `--help` has the usage.
  .configureOutput({ outputError: (str) => fail(clip(str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' '), 500)) })
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

fromCapture(program.command('replay'), 'the files are captures: import each and replay it')
  .description('replay traces against the model and report every divergence')
  .argument('<files...>', 'trace files (JSON Lines, trace format 1 or 1.1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--own-choices', 'adopt no recorded free choice (ids, fds, IOVAs, addresses); compare them all')
  .option('--invariants', "check the model's invariants after every event (what the event changed)")
  .option('--invariants-full', 'like --invariants, but check the whole state after every event (slow; the reference check)')
  .option('--explain', 'add to each divergence the part of the state its event named (its IOAS around the IOVA, its objects, the counters)')
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .option('--max-divergences <n>', MAX_DIVERGENCES_HELP, count, 1000)
  .option('--max-findings <n>', MAX_FINDINGS_HELP, count, 1000)
  .option('--bugs <list>', BUGS_HELP, bugList)
  .option('--kernel <v>', KERNEL_ALL_HELP, kernelOrAll)
  .option('--jobs <n>', JOBS_HELP, positiveInt)
  .option('--shard <i/n>', SHARD_HELP, shard)
  .action(async (captures, opts) => {
    if (opts.kernel === ALL) {
      await replayEnvelope(captures, opts);
      return;
    }
    const [{ exitCode, replayReport }, { runUnits }] = await Promise.all([import('../replay/replay-file.ts'), import('./parallel/pool.ts')]);
    const imported = opts.from === undefined ? null : await importCaptures(opts.from, captures, importOptions(opts));
    const files = imported?.traces ?? captures;
    const options = {
      ownChoices: opts.ownChoices === true,
      invariants: opts.invariants === true || opts.invariantsFull === true,
      invariantsFull: opts.invariantsFull === true,
      explain: opts.explain === true,
      maxLineBytes: opts.maxLineBytes,
      maxDivergences: opts.maxDivergences,
      maxFindings: opts.maxFindings,
      ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
      ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
    };
    const units = shardUnits(files.length, opts.shard ?? WHOLE);
    const traces = await runUnits({ kind: 'replay', files, options }, units, { jobs: threads(opts.jobs), worker: WORKER }).finally(() => imported?.done());
    const report = imported === null ? replayReport(traces, options.invariants) : imported.named(replayReport(traces, options.invariants));
    const part =
      opts.shard === undefined
        ? report
        : (await import('./parallel/part.ts')).replayPart(report, units, { options: optionsJson(options), shard: opts.shard, units: files.length });
    await showReplay(report, opts.json === true ? part : null);
    process.exitCode = exitCode(report);
  });

importerOptions(program.command('import'), 'import')
  .description('import a capture (a QEMU log, strace output, a syzkaller program or C reproducer) as a trace (format 1.1)')
  .argument('<format>', CAPTURE_FORMATS.join(', '), captureFormat)
  .argument('<file>', 'the capture')
  .option('-o, --out <file>', 'write the trace there (default: stdout)')
  .action(async (format, file, opts) => {
    const [{ importText }, { ImportError }] = await Promise.all([import('../replay/import/command.ts'), import('../replay/import/import-error.ts')]);
    let imported: { text: string; warnings: string[] };
    try {
      imported = importText(format, file, importOptions(opts));
    } catch (e: unknown) {
      if (e instanceof ImportError) fail(e.message);
      throw e;
    }
    for (const w of imported.warnings) process.stderr.write(`${w}\n`);
    if (opts.out === undefined) {
      process.stdout.write(imported.text);
      return;
    }
    try {
      writeFileSync(opts.out, imported.text);
    } catch (e: unknown) {
      fail(`cannot write ${clip(opts.out, Infinity)}: ${errorCode(e)}`);
    }
  });

/** `--from`: the captures imported to trace files, their warnings printed; an import that fails is the command's error. */
async function importCaptures(format: CaptureFormat, captures: readonly string[], options: ReturnType<typeof importOptions>) {
  const [{ importToFiles, underCaptureNames }, { ImportError }] = await Promise.all([import('../replay/import/command.ts'), import('../replay/import/import-error.ts')]);
  try {
    const imported = importToFiles(format, captures, options);
    for (const w of imported.warnings) process.stderr.write(`${w}\n`);
    const named = <R extends { readonly traces: readonly { readonly file: string; readonly error?: string }[] }>(report: R): R => underCaptureNames(report, imported.traces, captures);
    return { ...imported, named };
  } catch (e: unknown) {
    if (e instanceof ImportError) fail(e.message);
    throw e;
  }
}

/** What `replay --kernel all` is given: `replay`'s options, the importer's among them. */
type EnvelopeFlags = Parameters<typeof importOptions>[0] & {
  json?: true;
  ownChoices?: true;
  invariants?: true;
  invariantsFull?: true;
  explain?: true;
  shard?: Shard;
  maxLineBytes: number;
  maxDivergences: number;
  maxFindings: number;
  bugs?: ReadonlySet<BugName>;
  jobs?: number;
  from?: CaptureFormat;
};

/** Options of `replay` that mean nothing across releases: `--kernel all` refuses them. */
const NOT_WITH_ALL = { invariants: '--invariants', invariantsFull: '--invariants-full', explain: '--explain', shard: '--shard' } as const;

/** `replay --kernel all`: each file replayed under every release, a file per worker thread (replay/envelope.ts). */
async function replayEnvelope(captures: readonly string[], opts: EnvelopeFlags): Promise<void> {
  const refused = (Object.keys(NOT_WITH_ALL) as (keyof typeof NOT_WITH_ALL)[]).filter((k) => opts[k] !== undefined);
  if (refused.length > 0) fail(`--kernel all takes no ${refused.map((k) => NOT_WITH_ALL[k]).join(', ')}`);
  const [{ envelopeExitCode, envelopeReport }, { formatEnvelopeText }, { runUnits }] = await Promise.all([
    import('../replay/envelope.ts'),
    import('../replay/envelope-text.ts'),
    import('./parallel/pool.ts'),
  ]);
  // `all` is no release to import under: an importer follows `--header`'s env.kernel, else the newest.
  const { kernel: _all, ...importing } = opts;
  const imported = opts.from === undefined ? null : await importCaptures(opts.from, captures, importOptions(importing));
  const files = imported?.traces ?? captures;
  const options = {
    ownChoices: opts.ownChoices === true,
    maxLineBytes: opts.maxLineBytes,
    maxDivergences: opts.maxDivergences,
    maxFindings: opts.maxFindings,
    ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
  };
  const traces = await runUnits({ kind: 'envelope', files, options }, shardUnits(files.length, WHOLE), { jobs: threads(opts.jobs), worker: WORKER }).finally(() => imported?.done());
  const report = imported === null ? envelopeReport(traces) : imported.named(envelopeReport(traces));
  process.stdout.write(`${opts.json === true ? JSON.stringify(report) : formatEnvelopeText(report)}\n`);
  for (const t of report.traces) if (t.error !== undefined) process.stderr.write(`${t.error}\n`);
  process.exitCode = envelopeExitCode(report);
}

fromCapture(program.command('audit'), 'the files are captures: import each and audit it')
  .description('replay traces and report pinned-memory accounting: charges over time, peaks, leaks, invariants, kernel quirks, findings, the workload under iommufd, VFIO type1 and SPAPR TCE accounting side by side')
  .argument('<files...>', 'trace files (JSON Lines, trace format 1 or 1.1)')
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--html <file>', 'also write a self-contained HTML report (one trace: that file; several: one per trace, numbered)')
  .option('--history', 'list every pages object the trace made, not only the live ones and the largest that went away')
  .option('--own-choices', 'adopt no recorded free choice; compare them all')
  .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
  .option('--max-divergences <n>', MAX_DIVERGENCES_HELP, count, 1000)
  .option('--bugs <list>', BUGS_HELP, bugList)
  .option('--kernel <v>', KERNEL_HELP, kernelRelease)
  .option('--jobs <n>', JOBS_HELP, positiveInt)
  .option('--shard <i/n>', SHARD_HELP, shard)
  .action(async (captures, opts) => {
    const [{ auditExitCode }, { runUnits }] = await Promise.all([import('../replay/audit.ts'), import('./parallel/pool.ts')]);
    const imported = opts.from === undefined ? null : await importCaptures(opts.from, captures, importOptions(opts));
    const files = imported?.traces ?? captures;
    const options = {
      ownChoices: opts.ownChoices === true,
      maxLineBytes: opts.maxLineBytes,
      maxDivergences: opts.maxDivergences,
      history: opts.history === true,
      ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
      ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
    };
    const units = shardUnits(files.length, opts.shard ?? WHOLE);
    const ran = await runUnits({ kind: 'audit', files, options }, units, { jobs: threads(opts.jobs), worker: WORKER }).finally(() => imported?.done());
    const audits = imported === null ? ran : ran.map((a) => underCapture(a, imported.named));
    // The reports are printed whatever becomes of the HTML; a failure to write it is told after them.
    let htmlError: string | null = null;
    if (opts.html !== undefined) {
      const { renderAuditHtml } = await import('../replay/audit-html.ts');
      for (const [k, a] of audits.entries()) {
        // Numbered by the file's place on the command line, as a run over every file numbers it.
        const path = files.length === 1 ? opts.html : numbered(opts.html, (units[k] as number) + 1);
        try {
          writeFileSync(path, renderAuditHtml(a));
        } catch (e: unknown) {
          htmlError = `cannot write ${clip(path, Infinity)}: ${errorCode(e)}`;
          break;
        }
      }
    }
    const part =
      opts.shard === undefined
        ? { audits }
        : (await import('./parallel/part.ts')).auditPart(audits, units, { options: optionsJson(options), shard: opts.shard, units: files.length });
    await showAudit(audits, opts.json === true ? part : null);
    if (htmlError !== null) {
      process.stderr.write(`iommufd-model: ${htmlError}\n`);
      process.exitCode = 2;
      return;
    }
    process.exitCode = auditExitCode(audits);
  });

/** An audit of an imported trace, named by its capture as `replay --from` names its report. */
function underCapture(audit: AuditReport, named: (r: { readonly traces: readonly AuditReport['replay'][] }) => { readonly traces: readonly AuditReport['replay'][] }): AuditReport {
  const replay = named({ traces: [audit.replay] }).traces[0] ?? audit.replay;
  return { ...audit, file: replay.file, replay };
}

const CHECKPOINT_HELP = 'events between the snapshots kept to go back to (memory grows with the trace by what changed between two)';

/** The options `inspect`, `diff` and `bisect` share: `replay`'s, `--from` with the importer's, and the checkpoints. */
function timelineCommand<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>, jsonHelp: string) {
  const shared = command
    .option('--json', jsonHelp)
    .option('--own-choices', 'adopt no recorded free choice, as replay --own-choices')
    .option('--bugs <list>', BUGS_HELP, bugList)
    .option('--kernel <v>', KERNEL_HELP, kernelRelease)
    .option('--max-line-bytes <n>', 'longest accepted line, in bytes', positiveInt, 1048576)
    .option('--checkpoint-every <k>', CHECKPOINT_HELP, positiveInt, 1000);
  return fromCapture(shared, "the file is a capture: import it first, as replay --from does; lines are then the imported trace's (import writes it)");
}

type TimelineFlags = Parameters<typeof importOptions>[0] & {
  from?: CaptureFormat;
  ownChoices?: true;
  bugs?: ReadonlySet<BugName>;
  maxLineBytes: number;
  checkpointEvery: number;
};

/**
 * The trace `inspect`, `diff` or `bisect` goes through, and the options it is replayed with:
 * the file, or with `--from` the capture imported (its warnings printed, as `replay --from`
 * prints them), named `CAPTURE (imported)` since lines are then the imported trace's. The
 * header's `env.kernel` warnings are printed as `replay` prints them. `done()` removes the import.
 */
async function timelineSource(file: string, opts: TimelineFlags) {
  const imported = opts.from === undefined ? null : await importCaptures(opts.from, [file], importOptions(opts));
  const options = {
    ownChoices: opts.ownChoices === true,
    maxLineBytes: opts.maxLineBytes,
    checkpointEvery: opts.checkpointEvery,
    ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
    ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
    ...(imported === null ? {} : { name: `${file} (imported)` }),
    warn: (line: string) => process.stderr.write(`${line}\n`),
  };
  return { file: imported?.traces[0] ?? file, options, done: () => imported?.done() };
}

timelineCommand(
  program
    .command('inspect')
    .description('print the state after an event of a trace (--at), or go through the trace interactively')
    .argument('<file>', 'a trace file (with --from, a capture)')
    .option('--at <n>', 'the trace line of the event (the header is line 1), or seq:S for the first event with that seq')
    .option('--select <s>', 'only one context (PID:FD), one object ([PID:FD/]ID) or an IOVA window of an IOAS ([PID:FD/]ID@FIRST..LAST)')
    .option('--html <file>', 'write a self-contained page: the events to select one from, its state tree, the accounting charts (opens at --at)'),
  'print the state as one JSON object (schema: docs/inspect.schema.json)',
).action(async (file, opts) => {
  if (opts.html !== undefined && opts.select !== undefined) fail('--select does not narrow the --html page (its tree opens as far as asked)');
  if (opts.html === undefined && opts.at === undefined && opts.select !== undefined) fail('--select needs --at (in the session: select S)');
  const source = await timelineSource(file, opts);
  const options = { ...source.options, json: opts.json === true, ...(opts.select === undefined ? {} : { select: opts.select }) };
  if (opts.html !== undefined) {
    let html: string;
    try {
      const [{ pageData, renderInspectHtml }, { parseAt }] = await Promise.all([import('../replay/inspect/html.ts'), import('../replay/inspect/document.ts')]);
      html = renderInspectHtml(await pageData(source.file, opts.at === undefined ? null : parseAt(opts.at), source.options));
    } finally {
      source.done();
    }
    try {
      writeFileSync(opts.html, html);
    } catch (e: unknown) {
      fail(`cannot write ${clip(opts.html, Infinity)}: ${errorCode(e)}`);
    }
    return;
  }
  try {
    if (opts.at === undefined) {
      const { interactive } = await import('../replay/inspect/session.ts');
      process.exitCode = await interactive(source.file, options, { input: process.stdin, output: process.stdout, error: (line) => process.stderr.write(`iommufd-model: ${line}\n`) });
      return;
    }
    const { inspectCommand } = await import('../replay/inspect/inspect-command.ts');
    process.stdout.write(`${await inspectCommand(source.file, opts.at, options)}\n`);
  } finally {
    source.done();
  }
});

timelineCommand(
  program
    .command('diff')
    .description('say what changed between two events of a trace: objects, areas, pins and counters')
    .argument('<file>', 'a trace file (with --from, a capture)')
    .argument('<a>', 'the trace line of the earlier event (or seq:S)')
    .argument('<b>', 'the trace line of the later event (or seq:S)'),
  'print one JSON object',
).action(async (file, a, b, opts) => {
  const source = await timelineSource(file, opts);
  try {
    const { diffCommand } = await import('../replay/inspect/diff-command.ts');
    process.stdout.write(`${await diffCommand(source.file, a, b, { ...source.options, json: opts.json === true })}\n`);
  } finally {
    source.done();
  }
});

timelineCommand(
  program
    .command('bisect')
    .description('find the first event of a trace after which a predicate holds (docs/inspect.md: the predicates)')
    .argument('<file>', 'a trace file (with --from, a capture)')
    .requiredOption('--until <predicate>', "such as 'invariant', 'user_locked_vm uid=1000 > 0x10000', 'exists 1:3/5', 'mapped 1:3/1@0x100000'"),
  'print one JSON object',
).action(async (file, opts) => {
  const source = await timelineSource(file, opts);
  try {
    const { bisect, bisectExitCode, formatBisect } = await import('../replay/inspect/bisect.ts');
    const doc = await bisect(source.file, opts.until, source.options);
    process.stdout.write(`${opts.json === true ? JSON.stringify(doc) : formatBisect(doc)}\n`);
    process.exitCode = bisectExitCode(doc);
  } finally {
    source.done();
  }
});

program
  .command('fuzz')
  .description('generate command sequences, check every invariant after every step, shrink a failure to a minimal trace')
  .option('--seed <n>', 'fast-check seed, 0 to 2^32-1 (default: from the clock; printed either way)', seed)
  .option('--runs <n>', 'runs (command sequences) of the campaign, numbered from 0', runCount, 100)
  .option('--run <i>', 'make only run I of the campaign (what a failure prints to rerun it)', runIndex)
  .option('--max-steps <n>', 'commands per sequence, at most', positiveInt, 200)
  .option('--out <dir>', 'where to write a counterexample trace', '.')
  .option('--ops <list>', 'comma-separated ops to generate (default: all)', opList)
  .option('--path <path>', "with --run: go straight to the shrunk failure at fast-check's path, printed with it", failurePath)
  .option('--no-faults', 'skip the fail_nth injection reruns')
  .option('--bugs <list>', BUGS_HELP, bugList)
  .option('--kernel <v>', KERNEL_HELP, kernelRelease)
  .option('--json', 'print exactly one JSON report object on stdout')
  .option('--jobs <n>', JOBS_HELP, positiveInt)
  .option('--shard <i/n>', SHARD_HELP, shard)
  .action(async (opts) => {
    const [{ FUZZ_OPS }, { runUnits }, { tally }, { fuzzBanner, fuzzReport }, { fuzzPart }] = await Promise.all([
      import('./fuzz/fuzz.ts'),
      import('./parallel/pool.ts'),
      import('./fuzz/tally.ts'),
      import('./fuzz/fuzz-report.ts'),
      import('./parallel/part.ts'),
    ]);
    const ops = opts.ops;
    const unknown = ops?.filter((op) => !FUZZ_OPS.includes(op)) ?? [];
    if (unknown.length > 0) fail(`--ops: the fuzzer generates no op named ${clip(unknown.join(', '), 200)}; it generates ${FUZZ_OPS.join(', ')}`);
    if (opts.path !== undefined && opts.run === undefined) fail('--path needs --run, the run the path is in');
    if (opts.run !== undefined && opts.shard !== undefined) fail('--run makes one run: it takes no --shard');
    // Checked before the run, so that a failure found is not lost for want of a place to write it.
    const unusable = writableDirectory(opts.out);
    if (unusable !== null) fail(`--out ${unusable}`);
    const seed = opts.seed ?? Date.now() % 2 ** 31;
    const shard = opts.shard ?? WHOLE;
    const which = opts.run === undefined ? { runs: opts.runs } : { run: opts.run, ...(opts.path === undefined ? {} : { path: opts.path }) };
    const campaign = {
      ...which,
      maxSteps: opts.maxSteps,
      ops: ops ?? null,
      faults: opts.faults !== false,
      bugs: [...(opts.bugs ?? [])].sort(),
      ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
    };
    if (opts.json !== true) process.stdout.write(`${fuzzBanner(seed, campaign, shard)}\n`);
    const units = opts.run === undefined ? shardUnits(opts.runs, shard) : [opts.run];
    const bar = process.stderr.isTTY ? await progressBar() : null;
    bar?.start(units.length, 0);
    const started = performance.now();
    const job = {
      kind: 'fuzz',
      campaign: {
        seed,
        maxSteps: opts.maxSteps,
        faultInjection: opts.faults !== false,
        ...(ops === undefined ? {} : { ops }),
        ...(opts.bugs === undefined ? {} : { bugs: opts.bugs }),
        ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }),
      },
      ...(opts.path === undefined ? {} : { path: opts.path }),
    } as const;
    const outcomes = await runUnits(job, units, {
      jobs: threads(opts.jobs),
      worker: WORKER,
      onTick: () => bar?.increment(),
      ends: (o) => o.counterexample !== null,
    });
    bar?.stop();
    const seconds = (performance.now() - started) / 1000;
    const result = tally(outcomes);
    const found = result.counterexample;
    let counterexample = null;
    if (found !== null) {
      const file = join(opts.out, `counterexample-${seed}-${found.run}.jsonl`);
      writeFileSync(file, found.trace);
      const { run, path, message, shrunkSteps, shrinkRuns, shrinkSteps } = found;
      counterexample = { run, path, message, shrunkSteps, shrinkRuns, shrinkSteps, file };
    }
    const report = fuzzReport(seed, campaign, shard, { ...result, counterexample });
    const json = opts.json !== true ? null : opts.shard === undefined ? report : fuzzPart(report, opts.runs, result.runSteps);
    await showFuzz(report, json, seconds);
    process.exitCode = found === null ? 0 : 1;
  });

program
  .command('merge')
  .description('merge the --json reports of the shards of one replay, audit or fuzz run into the report of the whole run')
  .argument('<reports...>', "each shard's --json report (--shard I/N), in any order")
  .option('--json', "print exactly one JSON report object on stdout: the whole run's --json")
  .action(async (reports, opts) => {
    const { mergeReports } = await import('./parallel/merge.ts');
    const merged = mergeReports(reports);
    const json = opts.json === true;
    if (merged.command === 'replay') await showReplay(merged.report, json ? merged.report : null);
    else if (merged.command === 'audit') await showAudit(merged.audits, json ? { audits: merged.audits } : null);
    else {
      const { fuzzBanner } = await import('./fuzz/fuzz-report.ts');
      if (!json) process.stdout.write(`${fuzzBanner(merged.report.seed, merged.report.options, merged.report.shard)}\n`);
      await showFuzz(merged.report, json ? merged.report : null, null);
    }
    process.exitCode = merged.exitCode;
  });

/** Prints a replay report as `replay` does: `json` when given, else the text; each file's error on stderr. */
async function showReplay(report: ReplayReport, json: object | null): Promise<void> {
  const { formatTextReport } = await import('../replay/text-report.ts');
  process.stdout.write(`${json === null ? formatTextReport(report) : JSON.stringify(json)}\n`);
  for (const t of report.traces) for (const w of t.warnings ?? []) process.stderr.write(`${w}\n`);
  for (const t of report.traces) if (t.error !== undefined) process.stderr.write(`${t.error}\n`);
}

async function showAudit(audits: readonly AuditReport[], json: object | null): Promise<void> {
  const { formatAuditText } = await import('../replay/audit-text.ts');
  process.stdout.write(`${json === null ? audits.map(formatAuditText).join('\n') : JSON.stringify(json)}\n`);
  for (const a of audits) for (const w of a.replay.warnings ?? []) process.stderr.write(`${w}\n`);
  for (const a of audits) if (a.replay.error !== undefined) process.stderr.write(`${a.replay.error}\n`);
}

/** Prints what a campaign found (after its banner): `json` when given, else the text; `seconds`, when the runs were made here. */
async function showFuzz(report: FuzzReport, json: object | null, seconds: number | null): Promise<void> {
  const { fuzzSummary } = await import('./fuzz/fuzz-report.ts');
  process.stdout.write(`${json === null ? fuzzSummary(report, seconds) : JSON.stringify(json)}\n`);
}

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
  fail(clip(e instanceof Error ? e.message.replace(/^\[iommufd-model\] /, '') : String(e), 500));
});
