/**
 * Lines of a capture the importer could not read. They are reported, each with its line and
 * why, and counted; with `--strict` any of them stops the import. A line of a kernel-side log
 * joined to a QEMU log (`--join`) names that file.
 */
export interface LineIssue {
  readonly line: number;
  readonly reason: string;
  /** The joined kernel-side log the line is in; absent: the capture itself. */
  readonly file?: string;
}

export class LineIssues {
  readonly issues: LineIssue[] = [];

  add(line: number, reason: string, file?: string): void {
    this.issues.push(file === undefined ? { line, reason } : { line, reason, file });
  }
}

/** The warnings as stderr shows them: `file:line: reason`, then each file's count. */
export function formatIssues(file: string, issues: readonly LineIssue[]): string[] {
  // The capture's own lines first, then each joined log's.
  const files = [...new Set([undefined, ...issues.map((i) => i.file)])].filter((f) => f === undefined ? issues.some((i) => i.file === undefined) : true);
  return files.flatMap((joined) => {
    const of = issues.filter((i) => i.file === joined);
    const name = joined ?? file;
    const lines = `${of.length} line${of.length === 1 ? '' : 's'}`;
    return [...of.map((i) => `${name}:${i.line}: ${i.reason}`), `${name}: ${lines} ${joined === undefined ? 'not read' : 'not joined'}`];
  });
}
