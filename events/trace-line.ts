/**
 * One line of a trace file: ignorable, the header, or an event. This is where a problem found
 * in a value becomes a `TraceError` with its file and line.
 */
import { parseEvent } from './event.ts';
import { FieldError } from './field-error.ts';
import { parseHeader } from './header.ts';
import { shapeProblem } from './json-shape.ts';
import { TraceError } from './trace-error.ts';
import type { TraceEvent, TraceHeader } from './types.ts';

/** Blank lines and lines whose first non-space character is `#` carry nothing. */
export function isIgnorable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
    return c === 0x23;
  }
  return true;
}

/** The line's value, once its depth is known to be bounded and its keys unique. */
function parseJson(text: string, file: string, line: number): unknown {
  const shape = shapeProblem(text);
  if (shape?.tooDeep === true) throw new TraceError(file, line, shape.reason);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TraceError(file, line, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (shape !== null) throw new TraceError(file, line, shape.reason);
  return raw;
}

export function readHeaderLine(text: string, file: string, line: number): TraceHeader {
  const raw = parseJson(text, file, line);
  try {
    return parseHeader(raw);
  } catch (e) {
    if (e instanceof FieldError) throw new TraceError(file, line, `header ${e.message}`, { cause: e });
    throw e;
  }
}

export function readEventLine(text: string, file: string, line: number): TraceEvent {
  const raw = parseJson(text, file, line);
  try {
    return parseEvent(raw, line);
  } catch (e) {
    if (e instanceof FieldError) throw new TraceError(file, line, withOp(raw, e), { cause: e });
    throw e;
  }
}

/** The reason, led by the op's name once the op is known good: `IOAS_MAP args.length: ...`. */
function withOp(raw: unknown, e: FieldError): string {
  // Any problem but one with `op` itself comes after the op was found in the registry.
  const op = e.path !== 'op' && typeof raw === 'object' && raw !== null ? (raw as { op?: unknown }).op : undefined;
  return typeof op === 'string' ? `${op} ${e.message}` : e.message;
}
