/**
 * Valid traces to mutate: the bundled examples and the conformance corpus, each cut to its first
 * lines, so that a mutated event runs in the state a real trace builds before it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from './json-text.ts';

/** Lines kept of each trace: enough state for an event to meet, little enough to replay fast. */
const KEPT_LINES = 300;

export interface BaseTrace {
  readonly file: string;
  /** The header first, then events; no blank or comment lines. */
  readonly lines: readonly string[];
  /** Whether the header declares devices (the VFIO device ops need them). */
  readonly devices: boolean;
}

/** Where an op is found: the event at `lines[at]` of `trace`. */
export interface Occurrence {
  readonly trace: BaseTrace;
  readonly at: number;
}

export interface Bases {
  readonly traces: readonly BaseTrace[];
  readonly byOp: ReadonlyMap<string, readonly Occurrence[]>;
}

function firstLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines: string[] = [];
  for (let from = 0; from < text.length && lines.length < KEPT_LINES; ) {
    const nl = text.indexOf('\n', from);
    const to = nl === -1 ? text.length : nl;
    const line = text.slice(from, to);
    if (line.trim() !== '' && !line.trimStart().startsWith('#')) lines.push(line);
    from = to + 1;
  }
  return lines;
}

const traceFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => join(dir, name));

/** The bases under the repository at `root`. */
export function loadBases(root: string): Bases {
  const files = [...traceFiles(join(root, 'examples')), ...traceFiles(join(root, 'test/conformance/corpus'))];
  const traces = files.map((file): BaseTrace => {
    const lines = firstLines(file);
    const header = JSON.parse(lines[0] ?? '{}') as { env?: { devices?: unknown[] } };
    return { file, lines, devices: (header.env?.devices?.length ?? 0) > 0 };
  });
  const byOp = new Map<string, Occurrence[]>();
  for (const trace of traces) {
    trace.lines.forEach((line, at) => {
      const op = at === 0 ? undefined : (JSON.parse(line) as { op?: unknown }).op;
      if (typeof op !== 'string') return;
      const found = byOp.get(op);
      if (found === undefined) byOp.set(op, [{ trace, at }]);
      else found.push({ trace, at });
    });
  }
  return { traces, byOp };
}

export const parseLine = (line: string): Json => JSON.parse(line) as Json;
