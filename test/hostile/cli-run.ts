/**
 * The built command run over hostile files as a user runs it, many files to a process, and what
 * the format promises checked of each file: an exit status of 0, 1 or 2 that its report explains;
 * on stdout, with `--json`, exactly one JSON object with an entry for every file given, in order,
 * a bad file's entry carrying its `error`; on stderr, each bad file's error and nothing else, one
 * line `file:line: reason` naming the file escaped; nowhere a stack trace or an error of the
 * runtime itself.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { clip } from '../../events/quote.ts';
import type { HostileFile } from './hostile-file.ts';

export const CLI = join(resolve(import.meta.dirname, '../..'), 'dist/src/cli.js');

export interface Mode {
  readonly name: string;
  readonly args: readonly string[];
}

export const MODES: readonly Mode[] = [
  { name: 'replay', args: ['replay'] },
  { name: 'replay --invariants', args: ['replay', '--invariants'] },
  { name: 'replay --own-choices', args: ['replay', '--own-choices'] },
  { name: 'audit', args: ['audit'] },
  { name: 'replay --invariants --own-choices', args: ['replay', '--invariants', '--own-choices'] },
];

/** A hostile file written to disk. */
export interface Written {
  readonly file: HostileFile;
  readonly path: string;
}

export interface Finding {
  readonly file: HostileFile | null;
  readonly mode: string;
  readonly problem: string;
}

/** What one run said of one file: its status as the exit code rules make it, and its report entry. */
export interface FileOutcome {
  readonly status: 0 | 1 | 2;
  readonly error: string | undefined;
  readonly entry: unknown;
}

export interface Run {
  readonly seconds: number;
  readonly exit: number | null;
  readonly stderr: string;
  /** One for each file, when the report could be read. */
  readonly outcomes: readonly FileOutcome[] | null;
  readonly findings: Finding[];
}

export interface RunOptions {
  readonly jobs: number;
  /** Killed past this, and the run is a finding. */
  readonly timeoutSeconds: number;
  readonly json?: boolean;
}

/** Signs that the runtime, not the command, spoke: a stack frame, a runtime error or warning. */
const CRASH = [
  /^\s+at .*(?:\(.*\)|:\d+:\d+)$/m,
  /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|EvalError|URIError|AggregateError|InternalError)\b/,
  /Maximum call stack/,
  /Invalid (?:array|string|typed array) length/,
  /Cannot create a string longer/,
  /maximum size exceeded/,
  /allocation failed|out of memory|JavaScript heap/i,
  /\bERR_[A-Z_]+\b/,
  /node:internal/,
  /\(node:\d+\)/,
  /Cannot (?:read|set) propert/,
  /is not (?:a function|iterable|defined)/,
  /Unhandled|uncaught/i,
];

const crashIn = (text: string): RegExp | undefined => CRASH.find((pattern) => pattern.test(text));

interface Entry {
  readonly file: string;
  readonly error?: string;
  readonly diverged: number;
  readonly violations?: readonly unknown[];
  readonly violationsOmitted?: number;
}

interface AuditEntry {
  readonly file: string;
  readonly replay: Entry;
  readonly violations: readonly unknown[];
  readonly leaks: readonly unknown[];
}

/** The entries of a `replay --json` or `audit --json` report, as the exit code rules read them. */
function entriesOf(report: unknown): { file: string; error: string | undefined; failed: boolean; entry: unknown }[] | null {
  if (typeof report !== 'object' || report === null) return null;
  const { traces, audits } = report as { traces?: Entry[]; audits?: AuditEntry[] };
  if (Array.isArray(traces)) {
    return traces.map((t) => ({
      file: t.file,
      error: t.error,
      failed: t.diverged > 0 || (t.violations?.length ?? 0) + (t.violationsOmitted ?? 0) > 0,
      entry: t,
    }));
  }
  if (Array.isArray(audits)) {
    return audits.map((a) => ({
      file: a.file,
      error: a.replay.error,
      failed: a.replay.diverged > 0 || a.violations.length + a.leaks.length > 0,
      entry: a,
    }));
  }
  return null;
}

/** The problems of one file's error line, or null. */
function errorProblem(path: string, error: string): string | null {
  const prefix = `${clip(path, Number.POSITIVE_INFINITY)}:`;
  if (error.includes('\n') || error.includes('\r')) return `its error is not one line: ${JSON.stringify(error.slice(0, 300))}`;
  if (!error.startsWith(prefix) || !/^\d+: ./.test(error.slice(prefix.length))) {
    return `its error does not start with the file's name, escaped, and a line: ${JSON.stringify(error.slice(0, 300))}`;
  }
  const crash = crashIn(error);
  return crash === undefined ? null : `its error is the runtime's (${crash.source}): ${JSON.stringify(error.slice(0, 300))}`;
}

function spawn(args: readonly string[], timeoutSeconds: number): { result: SpawnSyncReturns<string>; seconds: number } {
  const started = performance.now();
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutSeconds * 1000, maxBuffer: 1 << 30 });
  return { result, seconds: (performance.now() - started) / 1000 };
}

/** The command's arguments for `written` in `mode`. */
function argsFor(mode: Mode, written: readonly Written[], options: RunOptions): string[] {
  const limits = new Set(written.map((w) => w.file.maxLineBytes));
  if (limits.size > 1) throw new Error('files read with different line limits share a run');
  const [limit] = limits;
  return [
    ...mode.args,
    ...(options.json === false ? [] : ['--json']),
    '--jobs',
    String(options.jobs),
    ...(limit === undefined ? [] : ['--max-line-bytes', String(limit)]),
    ...written.map((w) => w.path),
  ];
}

/** Runs `written` (all read with the same line limit) in one process, with `--json`, and checks every file. */
export function runFiles(mode: Mode, written: readonly Written[], options: RunOptions): Run {
  const { result, seconds } = spawn(argsFor(mode, written, options), options.timeoutSeconds);
  const findings: Finding[] = [];
  const problem = (file: HostileFile | null, text: string): void => {
    findings.push({ file, mode: mode.name, problem: text });
  };
  const only = written.length === 1 ? (written[0] as Written).file : null;
  const base = { seconds, exit: result.status, stderr: result.stderr ?? '' };
  if (result.error !== undefined || result.signal !== null) {
    problem(only, `the run did not end by itself in ${options.timeoutSeconds} s: ${result.error?.message ?? result.signal}`);
    return { ...base, outcomes: null, findings };
  }
  const { stdout, stderr } = result;
  if (result.status !== 0 && result.status !== 1 && result.status !== 2) problem(only, `exit status ${result.status}`);
  for (const [stream, text] of [['stdout', stdout], ['stderr', stderr]] as const) {
    const crash = crashIn(text);
    if (crash !== undefined) problem(only, `${stream} shows the runtime (${crash.source}): ${JSON.stringify(text.slice(0, 500))}`);
  }
  let report: unknown;
  try {
    if (!stdout.endsWith('\n') || stdout.indexOf('\n') !== stdout.length - 1) throw new Error('not one line');
    report = JSON.parse(stdout);
  } catch (e) {
    const said = `exit ${result.status}, stdout ${JSON.stringify(stdout.slice(0, 300))}, stderr ${JSON.stringify(stderr.slice(0, 300))}`;
    problem(only, `stdout is not one JSON object on one line (${(e as Error).message}): ${said}`);
    return { ...base, outcomes: null, findings };
  }
  const entries = entriesOf(report);
  if (entries === null || entries.length !== written.length) {
    problem(only, `the report has ${entries?.length ?? 'no'} entries for ${written.length} files`);
    return { ...base, outcomes: null, findings };
  }
  const outcomes = entries.map((e, i): FileOutcome => {
    const { file, path } = written[i] as Written;
    if (e.file !== path) problem(file, `entry ${i} is of ${JSON.stringify(e.file)}, not of this file`);
    const wrong = e.error === undefined ? null : errorProblem(path, e.error);
    if (wrong !== null) problem(file, wrong);
    return { status: e.error !== undefined ? 2 : e.failed ? 1 : 0, error: e.error, entry: e.entry };
  });
  const expected = outcomes.some((o) => o.status === 2) ? 2 : outcomes.some((o) => o.status === 1) ? 1 : 0;
  if (result.status !== expected) problem(only, `exit status ${result.status}, where the report says ${expected}`);
  const errors = outcomes.flatMap((o) => (o.error === undefined ? [] : [`${o.error}\n`])).join('');
  if (stderr !== errors) problem(only, `stderr is not the files' errors, one line each: ${JSON.stringify(stderr.slice(0, 500))}`);
  return { ...base, outcomes, findings };
}

/** The same files without `--json`: the same exit status and the same stderr, and no runtime on stdout. */
export function runText(mode: Mode, written: readonly Written[], options: RunOptions, json: Run): Finding[] {
  const { result } = spawn(argsFor(mode, written, { ...options, json: false }), options.timeoutSeconds);
  const findings: Finding[] = [];
  const only = written.length === 1 ? (written[0] as Written).file : null;
  const name = `${mode.name} (text)`;
  if (result.status !== json.exit) findings.push({ file: only, mode: name, problem: `exit status ${result.status}, ${json.exit} with --json` });
  if (result.stderr !== json.stderr) findings.push({ file: only, mode: name, problem: `stderr differs from --json's: ${JSON.stringify((result.stderr ?? '').slice(0, 500))}` });
  const crash = crashIn(result.stdout ?? '');
  if (crash !== undefined) findings.push({ file: only, mode: name, problem: `stdout shows the runtime (${crash.source})` });
  return findings;
}

/** One file alone: what a run of many files said of it, exactly, and stderr of one line at most. */
export function runAlone(mode: Mode, written: Written, options: RunOptions, inBatch: FileOutcome): Run {
  const run = runFiles(mode, [written], options);
  const alone = run.outcomes?.[0];
  const difference = alone === undefined ? null : firstDifference(inBatch.entry, alone.entry, '');
  if (difference !== null) {
    run.findings.push({ file: written.file, mode: mode.name, problem: `alone, its report differs from its report among other files: ${difference}` });
  }
  const lines = run.stderr === '' ? 0 : run.stderr.split('\n').length - 1;
  if (lines !== (alone?.status === 2 ? 1 : 0)) {
    run.findings.push({ file: written.file, mode: mode.name, problem: `alone, stderr has ${lines} lines: ${JSON.stringify(run.stderr.slice(0, 300))}` });
  }
  return run;
}

/** Where two reports first differ, with both values; null when they do not. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
      if (found !== null) return found;
    }
    return null;
  }
  return a === b ? null : `${path || 'the entry'}: ${JSON.stringify(a)?.slice(0, 200)} among others, ${JSON.stringify(b)?.slice(0, 200)} alone`;
}
