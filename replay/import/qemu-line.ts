/**
 * One line of QEMU's output, as the `log` and `syslog` trace backends and `error_report()` print
 * it: a trace event (`<name> <format expanded>`, scripts/tracetool/backend/log.py and syslog.py),
 * or a message (`<argv0>: [<-device option string>: ]<message>`, util/error-report.c), behind
 * whatever the output went through: a `-msg timestamp=on` time, an older log backend's
 * `<tid>@<sec>.<usec>:`, a syslog or journal prefix, indentation.
 */
import { QEMU_BRANCH_EVENTS, QEMU_EARLIER_FORMATS } from './qemu-branch-events.ts';
import { QEMU_TRACE_EVENTS } from './qemu-formats.ts';

/** The format of a trace event: the vendored files', else a development branch's. */
const formatOf = (name: string) => QEMU_TRACE_EVENTS[name] ?? QEMU_BRANCH_EVENTS[name];

export type QemuLine =
  | { readonly kind: 'blank' }
  /** A trace event of the vendored trace-events files, its arguments by name as printed. */
  | { readonly kind: 'trace'; readonly name: string; readonly args: { readonly [arg: string]: string } }
  /** A message: the `-device` option string it names, if any, and the message itself. */
  | { readonly kind: 'message'; readonly device: string | null; readonly text: string }
  /** An HMP monitor command echoed into the log (`(qemu) device_del net1`). */
  | { readonly kind: 'monitor'; readonly command: string }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** What surrounds a line: each pattern is removed from its start in turn. */
const PREFIXES = [
  // syslog / journalctl: `<month> <day> <hh:mm:ss> <host> <ident>[<pid>]: `, the month in any language.
  /^\S+ +\d{1,2} \d{2}:\d{2}:\d{2} \S+ [^\s[\]]+\[\d+\]: /u,
  // -msg timestamp=on (util/log.c, util/error-report.c): an ISO 8601 UTC time.
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z? /,
  // The log backend before QEMU 7.1: `<tid>@<sec>.<usec>:` before the event name.
  /^\d+@\d+\.\d+:/,
];

/** A printf conversion of a trace-events format, as a pattern for what it prints. */
function conversion(spec: string): string {
  const c = spec[spec.length - 1];
  switch (c) {
    case 'd':
    case 'i':
      return '(-?\\d+)';
    case 'u':
      return '(\\d+)';
    case 'x':
    case 'X':
      return '([0-9a-fA-F]+)';
    case 'p':
      return '(0x[0-9a-fA-F]+|\\(nil\\))';
    case 'c':
      return '([\\s\\S])';
    default:
      return '(.*?)';
  }
}

const patterns = new Map<string, RegExp>();

/** The pattern of a format: literal text as it is, each conversion a group. */
function patternOf(format: string): RegExp {
  let pattern = patterns.get(format);
  if (pattern === undefined) {
    let source = '';
    let i = 0;
    while (i < format.length) {
      const m = /^%(%|[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?[diuxXpcs])/.exec(format.slice(i));
      if (m === null) {
        source += (format[i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        i++;
      } else {
        source += m[1] === '%' ? '%' : conversion(m[1] as string);
        i += m[0].length;
      }
    }
    pattern = new RegExp(`^${source}$`);
    patterns.set(format, pattern);
  }
  return pattern;
}

/** A trace event line after its name: the arguments, or why it does not read. */
function traceArgs(name: string, rest: string): QemuLine {
  const event = formatOf(name);
  if (event === undefined) return { kind: 'unreadable', reason: `${name}: not an event of the vendored QEMU trace-events files` };
  for (const format of [event, ...(QEMU_EARLIER_FORMATS[name] ?? [])]) {
    const m = patternOf(format.format).exec(rest);
    if (m === null) continue;
    const args: { [arg: string]: string } = {};
    format.args.forEach((arg, i) => {
      if (m[i + 1] !== undefined) args[arg] = m[i + 1] as string;
    });
    return { kind: 'trace', name, args };
  }
  return { kind: 'unreadable', reason: `${name}: does not read by its format ${JSON.stringify(event.format)} (another QEMU version?)` };
}

/** The end of a `-device` option string: JSON (`{...}`, QEMU's -device JSON syntax) or up to `: `. */
function deviceEnd(text: string): number {
  if (!text.startsWith('{')) return text.indexOf(': ');
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.startsWith(': ', i + 1) || i + 1 === text.length || text[i + 1] === ':' ? i + 1 : -1;
  }
  return -1;
}

/** A message after its `argv0: `: the `-device` option string it names, and the message. */
function message(text: string): QemuLine {
  if (!text.startsWith('-device ')) return { kind: 'message', device: null, text };
  const rest = text.slice('-device '.length);
  const end = deviceEnd(rest);
  if (end < 0) return { kind: 'message', device: rest.replace(/:$/, ''), text: '' };
  return { kind: 'message', device: rest.slice(0, end), text: rest.slice(end).replace(/^:\s?/, '') };
}

/** An event name: a C identifier of lower-case letters, digits and `_`. */
const EVENT_NAME = /^[a-z][a-z0-9_]*$/;

export function readQemuLine(raw: string): QemuLine {
  let text = raw.trim();
  if (text === '') return { kind: 'blank' };
  for (const prefix of PREFIXES) text = text.replace(prefix, '');
  if (text.startsWith('(qemu) ')) return { kind: 'monitor', command: text.slice('(qemu) '.length) };
  const space = text.indexOf(' ');
  const first = space < 0 ? text : text.slice(0, space);
  if (EVENT_NAME.test(first) && formatOf(first) !== undefined) return traceArgs(first, space < 0 ? '' : text.slice(space + 1));
  // error_report(): `<argv0>: ` first, unless the poster trimmed it.
  const argv0 = /^([\w.+/-]+): (.*)$/s.exec(text);
  if (argv0 !== null && !EVENT_NAME.test(argv0[1] as string)) return message(argv0[2] as string);
  if (argv0 !== null && /qemu|emu-/.test(argv0[1] as string)) return message(argv0[2] as string);
  if (/^[a-z][a-z0-9]*_[a-z0-9_]+ /.test(text)) return traceArgs(first, text.slice(space + 1));
  return { kind: 'message', device: null, text };
}
