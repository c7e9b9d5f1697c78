/**
 * One line of strace output: `[pid N] ` or `N ` (`-f`), a time (`-t`, `-tt`, `-ttt`, `-r`), then
 * `name(args) = result [<duration>]` (`-T`); a call another thread interrupts is split into
 * `name(args <unfinished ...>` and `<... name resumed>args) = result`. Signals and exits
 * (`--- SIGCHLD ... ---`, `+++ exited with 0 +++`) are lines of their own.
 */

export type StraceLine =
  | { readonly kind: 'blank' }
  | { readonly kind: 'other' }
  | { readonly kind: 'call'; readonly pid: number | null; readonly name: string; readonly args: string; readonly result: string }
  | { readonly kind: 'unfinished'; readonly pid: number | null; readonly name: string; readonly args: string }
  | { readonly kind: 'resumed'; readonly pid: number | null; readonly name: string; readonly args: string; readonly result: string }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** The `= result` tail: the return value, an errno and its text, and `-T`'s duration. */
const RESULT = /\)\s+=\s+(\?|-?\d+|0x[0-9a-fA-F]+)(?:\s+(E[A-Z0-9]+)(?:\s+\([^)]*\))?)?(?:\s+\([^)]*\))?(?:\s+<[0-9.]+>)?\s*$/;

export interface StraceResult {
  /** `null` for `?` (no return: the process went away). */
  readonly ret: bigint | null;
  readonly errno: string | null;
}

export function readResult(result: string): StraceResult {
  const [ret, errno] = result.split(' ');
  return { ret: ret === '?' ? null : BigInt(ret as string), errno: errno ?? null };
}

export function readStraceLine(raw: string): StraceLine {
  let text = raw.trim();
  if (text === '') return { kind: 'blank' };
  let pid: number | null = null;
  const tagged = /^\[pid\s+(\d+)\]\s+/.exec(text) ?? /^(\d+)\s+(?=\S)/.exec(text);
  if (tagged !== null) {
    pid = Number(tagged[1]);
    text = text.slice(tagged[0].length);
  }
  // -t / -tt (`18:17:24[.123456]`), -ttt and -r (`0.000041`).
  text = text.replace(/^(?:\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+/, '');
  // -i (`[00007f3a5c2e1a1b] `, the instruction pointer) and -n (`[  16] `, the system call number).
  text = text.replace(/^(?:\[\s*[0-9a-fA-F]+\]\s+)+/, '');
  // Signals, exits, -k's stack frames (` > /usr/lib64/libc.so.6(ioctl+0xb) [0x10a1b]`), and strace's own notes (`strace: Process 7131 attached`).
  if (/^(?:---|\+\+\+|> |strace: )/.test(text)) return { kind: 'other' };
  const resumed = /^<\.\.\. ([a-z0-9_]+) resumed>\s?(.*)$/.exec(text);
  if (resumed !== null) {
    const body = resumed[2] as string;
    const r = RESULT.exec(body);
    if (r === null) return { kind: 'unreadable', reason: `${resumed[1]}: a resumed call without a result` };
    return { kind: 'resumed', pid, name: resumed[1] as string, args: body.slice(0, r.index), result: `${r[1]}${r[2] === undefined ? '' : ` ${r[2]}`}` };
  }
  const call = /^([a-z0-9_]+)\((.*)$/.exec(text);
  if (call === null) return { kind: 'unreadable', reason: 'not a system call strace prints' };
  const rest = call[2] as string;
  const unfinished = /\s*<unfinished \.\.\.>\s*$/.exec(rest);
  if (unfinished !== null) return { kind: 'unfinished', pid, name: call[1] as string, args: rest.slice(0, unfinished.index) };
  const r = RESULT.exec(rest);
  if (r === null) return { kind: 'unreadable', reason: `${call[1]}: no result` };
  return { kind: 'call', pid, name: call[1] as string, args: rest.slice(0, r.index), result: `${r[1]}${r[2] === undefined ? '' : ` ${r[2]}`}` };
}

/** A string as strace quotes it (`"..."`), its C escapes undone: `-x` and `-xx` print bytes as `\xNN`, others are octal or `\n`-style. */
export function unquote(quoted: string): string | null {
  const m = /^"(.*)"(?:\.\.\.)?$/s.exec(quoted);
  if (m === null) return null;
  const ESCAPES: { readonly [c: string]: string } = { n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', '"': '"', '\\': '\\' };
  return (m[1] as string).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) =>
    e.startsWith('x') && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : /^[0-7]+$/.test(e) ? String.fromCharCode(parseInt(e, 8)) : (ESCAPES[e] ?? e),
  );
}

/** A call's arguments, split at the commas outside brackets, braces, parentheses and quotes. */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(' || c === '[' || c === '{' || c === '<') depth++;
    else if (c === ')' || c === ']' || c === '}' || c === '>') depth--;
    else if (c === ',' && depth === 0) {
      out.push(args.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(args.slice(start).trim());
  return out;
}
