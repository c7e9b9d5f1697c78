/**
 * The trace an importer builds: events written as trace lines would write them (JSON, before
 * reading), each with the capture line it came from, and the events added to make the trace
 * runnable, each with a note saying so. Reading the draft through the trace reader checks what
 * the importer made as any trace is checked; writing it goes through the trace writer.
 */
import { parseEvent } from '../../events/event.ts';
import { FieldError } from '../../events/field-error.ts';
import { parseHeader } from '../../events/header.ts';
import type { TraceEvent, TraceHeader } from '../../events/types.ts';
import { formatEvent, formatHeader } from '../../events/trace-writer.ts';

/** An event line as JSON: `op` and the keys the format gives it. */
export type EventDraft = { readonly op: string; readonly [key: string]: unknown };

export interface ImportedTrace {
  readonly header: TraceHeader;
  /** Numbered as written: the header is line 1, the first event line 2. */
  readonly events: readonly TraceEvent[];
}

export class TraceDraft {
  readonly events: EventDraft[] = [];

  /** An event read from capture line `line`. */
  add(event: EventDraft, line: number): void {
    this.events.push({ ...event, source_line: line });
  }

  /** An event the capture does not show, added because line `line` needs it. */
  added(event: EventDraft, line: number, why: string): void {
    this.events.push({ ...event, source_line: line, note: `added: ${why}` });
  }
}

/** The draft read as a trace; an importer that wrote something the format does not allow is a bug. */
export function readDraft(header: object, drafts: readonly EventDraft[]): ImportedTrace {
  const read = <T>(what: string, parse: () => T): T => {
    try {
      return parse();
    } catch (e) {
      if (e instanceof FieldError) throw new Error(`[iommufd-model] the importer wrote a malformed ${what}: ${e.message}`);
      throw e;
    }
  };
  return {
    header: read('header', () => parseHeader(header)),
    events: drafts.map((d, i) => read(`${d.op} event`, () => parseEvent(d, i + 2))),
  };
}

/** The trace as JSON Lines, through the trace writer. */
export function traceText(trace: ImportedTrace): string {
  return `${[formatHeader(trace.header), ...trace.events.map(formatEvent)].join('\n')}\n`;
}
