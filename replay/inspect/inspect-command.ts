/**
 * `iommufd-model inspect FILE --at N [--json] [--select S]`: the state after one event. Bad
 * input (a line that is no event, past the end, an unknown object, a malformed selector)
 * rejects with an `InspectError`, which the command prints as its one-line error.
 */
import { type At, inspectDocument, ordinalOf, parseAt } from './document.ts';
import { parseSelector } from './select.ts';
import { formatInspect } from './text-tree.ts';
import { Timeline, type TimelineOptions } from './timeline.ts';
import type { InspectDocument } from './view-types.ts';

export interface InspectOptions extends TimelineOptions {
  readonly json: boolean;
  readonly select?: string;
}

/** The document `inspect --at` prints; the selector is read before the trace is. */
export async function inspectAt(file: string, at: At, options: Omit<InspectOptions, 'json'>): Promise<InspectDocument> {
  const selector = options.select === undefined ? null : { text: options.select, selector: parseSelector(options.select) };
  const timeline = await Timeline.open(file, options);
  try {
    const p = await timeline.at(await ordinalOf(timeline, at));
    return inspectDocument(timeline.name, p, selector);
  } finally {
    await timeline.close();
  }
}

export async function inspectCommand(file: string, at: string, options: InspectOptions): Promise<string> {
  const doc = await inspectAt(file, parseAt(at), options);
  return options.json ? JSON.stringify(doc) : formatInspect(doc);
}
