/** What `inspect` prints about one position: the event, and the state after it, whole or selected. */
import { clip } from '../../events/quote.ts';
import { InspectError } from './inspect-error.ts';
import { type Selector, select } from './select.ts';
import { stateView } from './state-view.ts';
import type { Position, Timeline } from './timeline.ts';
import type { EventRef, InspectDocument } from './view-types.ts';

/** `--at` and the interactive `at`: a trace line, or `seq:S` for the first event with that seq. */
export type At = { readonly line: number } | { readonly seq: number };

export function parseAt(text: string): At {
  const t = text.trim();
  const seq = /^seq:(\d+)$/.exec(t);
  if (seq !== null) return { seq: safe(seq[1] as string, text) };
  if (/^\d+$/.test(t)) {
    const line = safe(t, text);
    if (line < 1) throw new InspectError('line 0: lines count from 1 (the header is line 1)');
    return { line };
  }
  throw new InspectError(`${JSON.stringify(clip(text))} is not a position: a trace line N, or seq:S`);
}

function safe(digits: string, text: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw new InspectError(`${JSON.stringify(clip(text))}: the number is too large`);
  return n;
}

export async function ordinalOf(timeline: Timeline, at: At): Promise<number> {
  return 'line' in at ? timeline.ordinalOfLine(at.line) : timeline.ordinalOfSeq(at.seq);
}

export function eventRef(p: Position): EventRef {
  return { line: p.line, ...(p.sourceLine === null ? {} : { source_line: p.sourceLine }), seq: p.seq, op: p.op, outcome: p.outcome, errno: p.errno };
}

/** Where a message places a lookup: `after line 12`. */
export const whereText = (p: Position): string => (p.op === null ? `before the first event` : `after line ${p.line}`);

export function inspectDocument(file: string, p: Position, selector: { readonly text: string; readonly selector: Selector } | null): InspectDocument {
  const at = eventRef(p);
  if (selector === null) return { file, at, state: stateView(p.world) };
  return { file, at, select: selector.text, selection: select(p.world, selector.selector, whereText(p)) };
}
