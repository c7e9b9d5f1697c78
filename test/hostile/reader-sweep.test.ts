/**
 * Every place of the header and of every op, with every edge value, read by the reader itself:
 * each line is taken, or refused with a `TraceError` of one line, `file:line: reason`, short,
 * that names no error of the runtime. The command meets these values a file at a time in
 * hostile.test.ts; here the reader meets all of them, in seconds.
 */
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../events/op-plan.ts';
import { TraceError, parseTraceText } from '../../events/index.ts';
import { valuesFor } from './edge-values.ts';
import { type Json, setAt, text } from './json-text.ts';
import { PLACES } from './places.ts';

const HEADER: Json = { trace: 'iommufd', version: '1.1', env: {} };
const OPS = [...PLANS.keys()];
/** A reason quotes a few values of at most about 80 characters each. */
const MAX_MESSAGE = 1200;
const RUNTIME = /TypeError|RangeError|ReferenceError|Maximum call stack|Invalid (?:array|string) length|Cannot create a string|maximum size exceeded|\[object /;

/** What is wrong with how the reader met `content`, or null. */
function problemOf(content: string): string | null {
  try {
    parseTraceText(content, 'sweep.jsonl');
    return null;
  } catch (e) {
    if (!(e instanceof TraceError)) return `threw ${String(e)}`;
    const { message } = e;
    if (!/^sweep\.jsonl:[12]: \S/.test(message)) return `message does not name the file and line: ${message}`;
    if (/[\n\r\u2028\u2029]/.test(message)) return `message is not one line: ${JSON.stringify(message)}`;
    if (message.length > MAX_MESSAGE) return `message of ${message.length} characters`;
    if (RUNTIME.test(message)) return `message names the runtime: ${message}`;
    return null;
  }
}

describe('the reader, at every place with every edge value', () => {
  it('takes the line, or refuses it in one short line naming the file and line', () => {
    const problems: string[] = [];
    let lines = 0;
    // Refusals are most of the lines, and the stack each would record most of their cost.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      PLACES.forEach((place, p) => {
        valuesFor(place.hint).forEach((value, v) => {
          const op = place.line === '*' ? (OPS[(p + v) % OPS.length] as string) : place.line;
          const content =
            place.line === 'header' ? `${text(setAt(HEADER, place.path, value))}\n` : `${text(HEADER)}\n${text(setAt({ op }, place.path, value))}\n`;
          const problem = problemOf(content);
          lines++;
          if (problem !== null) problems.push(`${place.name} (${op}) = ${text(value).slice(0, 80)}: ${problem}`);
        });
      });
    } finally {
      Error.stackTraceLimit = limit;
    }
    expect(problems).toEqual([]);
    expect(lines).toBeGreaterThan(PLACES.length * 50);
  });
});
