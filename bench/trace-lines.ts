/** Synthetic traces as JSON objects, one a line, written in batches. */
import { closeSync, openSync, writeSync } from 'node:fs';

export type TraceLine = Readonly<Record<string, unknown>>;

/** Python's `hex()`, as the trace format writes a 64-bit quantity. */
export const hex = (n: number): string => `0x${n.toString(16)}`;

export function writeLines(path: string, lines: Iterable<TraceLine>): void {
  const fd = openSync(path, 'w');
  try {
    let batch: string[] = [];
    for (const line of lines) {
      batch.push(JSON.stringify(line));
      if (batch.length === 4096) {
        writeSync(fd, `${batch.join('\n')}\n`);
        batch = [];
      }
    }
    if (batch.length > 0) writeSync(fd, `${batch.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
}
