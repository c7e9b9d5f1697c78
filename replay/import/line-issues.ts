/**
 * Lines of a capture the importer could not read. They are reported, each with its line and
 * why, and counted; with `--strict` any of them stops the import.
 */
export interface LineIssue {
  readonly line: number;
  readonly reason: string;
}

export class LineIssues {
  readonly issues: LineIssue[] = [];

  add(line: number, reason: string): void {
    this.issues.push({ line, reason });
  }
}

/** The warnings as stderr shows them: `file:line: reason`, then the count. */
export function formatIssues(file: string, issues: readonly LineIssue[]): string[] {
  if (issues.length === 0) return [];
  return [...issues.map((i) => `${file}:${i.line}: ${i.reason}`), `${file}: ${issues.length} line${issues.length === 1 ? '' : 's'} not read`];
}
