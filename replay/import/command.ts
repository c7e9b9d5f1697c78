/**
 * What `import` and `replay --from` do around an importer: the warnings for unreadable lines
 * (errors with `--strict`), the trace written out, and, for `replay --from`, the imported traces
 * replayed as files and reported under the captures' names.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clip } from '../../events/quote.ts';
import { type CaptureFormat, type ImportOptions, importCapture } from './import.ts';
import { ImportError } from './import-error.ts';
import { formatIssues } from './line-issues.ts';
import { traceText } from './trace-draft.ts';

export interface CommandImportOptions extends ImportOptions {
  /** `--strict`: an unreadable line stops the import. */
  readonly strict?: boolean;
}

/** A capture as trace text, and the warnings to print; `ImportError` when it cannot be imported. */
export function importText(format: CaptureFormat, file: string, options: CommandImportOptions): { text: string; warnings: string[] } {
  const { trace, issues } = importCapture(format, file, options);
  const lines = formatIssues(clip(file, Infinity), issues);
  if (options.strict === true && lines.length > 0) throw new ImportError(lines.join('\n'));
  return { text: traceText(trace), warnings: lines };
}

/** The captures imported to trace files in a directory of their own, removed by `done()`. */
export function importToFiles(format: CaptureFormat, files: readonly string[], options: CommandImportOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'iommufd-import-'));
  try {
    const warnings: string[] = [];
    const traces = files.map((file, i) => {
      const imported = importText(format, file, options);
      warnings.push(...imported.warnings);
      const path = join(dir, `${i}.jsonl`);
      writeFileSync(path, imported.text);
      return path;
    });
    return { traces, warnings, done: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A report of imported traces (replay's, or `--kernel all`'s), each named by its capture (`capture (imported)` where a line is named). */
export function underCaptureNames<
  T extends { readonly file: string; readonly error?: string; readonly warnings?: readonly string[] },
  R extends { readonly traces: readonly T[] },
>(report: R, traces: readonly string[], captures: readonly string[]): R {
  return {
    ...report,
    traces: report.traces.map((t) => {
      const i = traces.indexOf(t.file);
      const capture = captures[i];
      if (capture === undefined) return t;
      const named = (text: string): string => (text.startsWith(`${t.file}:`) ? `${capture} (imported)${text.slice(t.file.length)}` : text);
      return {
        ...t,
        file: capture,
        ...(t.error === undefined ? {} : { error: named(t.error) }),
        ...(t.warnings === undefined ? {} : { warnings: t.warnings.map(named) }),
      };
    }),
  };
}
