/**
 * A syzkaller C reproducer (pkg/csource's output, older and newer styles): the calls of
 * `execute_one()` (run in a forked child by `loop()` when the program repeats) or of `main()`,
 * each `syscall(__NR_..., ...)` after the `*(uintN_t*)addr = value` and `memcpy()` writes that
 * lay out its argument; `r[N]` resources from a call's return or from its argument afterwards;
 * `for` loops around a call (syzkaller's `(rerun: N)`); and the data area main() maps.
 */
import { ImportError } from './import-error.ts';
import type { LineIssues } from './line-issues.ts';
import { MemoryImage } from './syz-memory.ts';
import type { Operand, SyzProgram, SyzStep } from './syz-steps.ts';

type Stmt =
  | { readonly kind: 'stmt'; readonly text: string; readonly at: number }
  | { readonly kind: 'block'; readonly body: readonly Stmt[] }
  | { readonly kind: 'for'; readonly count: number; readonly body: readonly Stmt[] }
  | { readonly kind: 'if'; readonly cond: string; readonly body: readonly Stmt[] };

/** Comments as spaces, so that offsets keep their lines. */
const uncomment = (src: string): string =>
  src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '));

/** The index just past the bracket closing the one at `open`. */
function closing(src: string, open: number): number {
  const pairs: { readonly [c: string]: string } = { '{': '}', '(': ')' };
  const want = pairs[src[open] as string] as string;
  let depth = 0;
  let quoted = false;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === src[open]) depth++;
    else if (c === want && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${src[open]}`);
}

function statements(src: string, from: number, to: number): Stmt[] {
  const out: Stmt[] = [];
  let i = from;
  const next = (): Stmt[] => {
    while (i < to && /\s/.test(src[i] as string)) i++;
    if (src[i] === '{') {
      const end = closing(src, i);
      const body = statements(src, i + 1, end - 1);
      i = end;
      return body;
    }
    const one = statements(src, i, src.indexOf(';', i) + 1);
    i = src.indexOf(';', i) + 1;
    return one;
  };
  while (i < to) {
    while (i < to && /\s/.test(src[i] as string)) i++;
    if (i >= to) break;
    if (src[i] === '{') {
      out.push({ kind: 'block', body: next() });
    } else if (/^for\s*\(/.test(src.slice(i, i + 8))) {
      const open = src.indexOf('(', i);
      const end = closing(src, open);
      const count = Number(/<\s*(\d+)/.exec(src.slice(open, end))?.[1] ?? 1);
      i = end;
      out.push({ kind: 'for', count, body: next() });
    } else if (/^if\s*\(/.test(src.slice(i, i + 6))) {
      const open = src.indexOf('(', i);
      const end = closing(src, open);
      const cond = src.slice(open + 1, end - 1).trim();
      i = end;
      out.push({ kind: 'if', cond, body: next() });
    } else {
      const end = src.indexOf(';', i);
      if (end < 0 || end >= to) break;
      out.push({ kind: 'stmt', text: src.slice(i, end).replace(/\s+/g, ' ').trim(), at: i });
      i = end + 1;
    }
  }
  return out;
}

/** The body of function `name`: the statements between its braces. */
function body(src: string, name: string): { from: number; to: number } | null {
  const m = new RegExp(`\\b${name}\\s*\\(void\\)\\s*\\{`).exec(src);
  if (m === null) return null;
  const open = m.index + m[0].length - 1;
  return { from: open + 1, to: closing(src, open) - 1 };
}

/** A C integer literal (`0x20000040ul`, `-1`, `0`). */
const cint = (s: string): bigint => {
  const t = s.trim().replace(/(?<=[0-9a-fA-F])[uUlL]+$/, '');
  return t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t);
};

/** A C string literal's bytes: octal (`\000`), hex (`\x1f`) and the usual escapes. */
function cstring(s: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      bytes.push(s.charCodeAt(i) & 0xff);
      continue;
    }
    const rest = s.slice(i + 1);
    let m: RegExpExecArray | null;
    if ((m = /^[0-7]{1,3}/.exec(rest)) !== null) bytes.push(parseInt(m[0], 8) & 0xff);
    else if ((m = /^x[0-9a-fA-F]{1,2}/.exec(rest)) !== null) bytes.push(parseInt(m[0].slice(1), 16));
    else {
      m = /^./.exec(rest) as RegExpExecArray;
      bytes.push(({ n: 10, t: 9, r: 13, '\\': 92, '"': 34, "'": 39 } as { [c: string]: number })[m[0]] ?? m[0].charCodeAt(0));
    }
    i += m[0].length;
  }
  return Uint8Array.from(bytes);
}

const RES = /^r\[(\d+)\]$/;
const operand = (s: string): Operand => {
  const m = RES.exec(s.trim());
  return m === null ? cint(s) : { res: Number(m[1]) };
};

/** A NUL-terminated string in memory. */
function pathAt(image: MemoryImage, addr: bigint): string | null {
  if (!image.written(addr, 1)) return null;
  const bytes: number[] = [];
  for (let i = 0n; i < 4096n; i++) {
    const b = Number(image.read(addr + i, 1, () => 0n));
    if (b === 0) break;
    bytes.push(b);
  }
  return Buffer.from(bytes).toString('latin1');
}

export function readCReproducer(text: string, file: string, issues: LineIssues): SyzProgram & { readable: number } {
  const src = uncomment(text);
  const lineOf = (at: number): number => src.slice(0, at).split('\n').length;
  const execute = body(src, 'execute_one');
  const main = body(src, 'main');
  if (main === null && execute === null) throw new ImportError(`${file}: not a C reproducer: no main() or execute_one()`);
  const mainStmts = main === null ? [] : statements(src, main.from, main.to);
  const repeat = execute !== null && mainStmts.some((s) => s.kind === 'stmt' && /^loop\(\)$/.test(s.text));
  const run = repeat && execute !== null ? statements(src, execute.from, execute.to) : mainStmts;

  const defaults = new Map<number, bigint>();
  const init = /uint64_t r\[\d+\] = \{([^}]*)\}/.exec(src);
  init?.[1]?.split(',').forEach((v, i) => defaults.set(i, BigInt.asIntN(64, cint(v))));

  let dataBase: SyzProgram['dataBase'] = null;
  const image = new MemoryImage();
  const steps: SyzStep[] = [];
  let written = false;
  let readable = 0;
  type Ioctl = Extract<SyzStep, { kind: 'ioctl' }>;
  const last = (): SyzStep | undefined => steps[steps.length - 1];

  const syscall = (text: string, at: number): SyzStep | null => {
    const m = /^(?:res = )?syscall\(__NR_(\w+), (.*)\)$/.exec(text);
    if (m === null) return null;
    const args = (m[2] as string).split(',').map((a) => a.trim());
    const line = lineOf(at);
    switch (m[1]) {
      case 'mmap':
        // The data area is the one mapping read, write and execute (syzkaller's: PROT_READ|PROT_WRITE|PROT_EXEC).
        if (cint(args[2] ?? '0') === 7n) dataBase = { addr: cint(args[0] ?? '0'), from: `the reproducer's mmap() at line ${line}` };
        return null;
      case 'openat': {
        const path = pathAt(image, cint(args[1] ?? '0'));
        if (path === null) {
          issues.add(line, 'openat: the path it opens is never written');
          return null;
        }
        readable++;
        return { kind: 'open', line, path, res: null };
      }
      case 'ioctl': {
        const addr = cint(args[2] ?? '0');
        readable++;
        return { kind: 'ioctl', line, fd: operand(args[0] ?? '-1'), cmd: cint(args[1] ?? '0'), arg: { kind: 'memory', addr, image: image.copy() }, outputs: [], times: 1 };
      }
      default:
        issues.add(line, `${m[1]}: a system call the importer does not read`);
        return null;
    }
  };

  const interpret = (stmts: readonly Stmt[]): void => {
    for (const s of stmts) {
      if (s.kind === 'block') interpret(s.body);
      else if (s.kind === 'for') {
        // A loop around the call just made (its `(rerun: N)`): it runs `count` more times.
        const prev = last();
        const inner = s.body.find((b) => b.kind === 'stmt');
        if (prev?.kind === 'ioctl' && inner?.kind === 'stmt' && /syscall\(__NR_ioctl/.test(inner.text)) steps[steps.length - 1] = { ...prev, times: prev.times + s.count };
        else interpret(s.body);
      } else if (s.kind === 'if') {
        if (!/^res != -1$/.test(s.cond)) continue;
        for (const inner of s.body) {
          if (inner.kind !== 'stmt') continue;
          const prev = last();
          let m: RegExpExecArray | null;
          if ((m = /^r\[(\d+)\] = res$/.exec(inner.text)) !== null && prev?.kind === 'open') {
            steps[steps.length - 1] = { ...prev, res: Number(m[1]) };
          } else if ((m = /^r\[(\d+)\] = \*\(uint(8|16|32|64)_t\*\)(0x[0-9a-fA-F]+)$/.exec(inner.text)) !== null && prev?.kind === 'ioctl' && prev.arg.kind === 'memory') {
            const output = { res: Number(m[1]), offset: Number(cint(m[3] as string) - prev.arg.addr), size: Number(m[2]) / 8 };
            steps[steps.length - 1] = { ...prev, outputs: [...prev.outputs, output] } satisfies Ioctl;
          }
        }
      } else {
        let m: RegExpExecArray | null;
        if ((m = /^\*\(uint(8|16|32|64)_t\*\)(0x[0-9a-fA-F]+) = (.+)$/.exec(s.text)) !== null) {
          const value = m[3] as string;
          image.write(cint(m[2] as string), Number(m[1]) / 8, RES.test(value) ? { res: Number(RES.exec(value)?.[1]) } : cint(value));
          written = true;
        } else if ((m = /^memcpy\(\(void ?\*\)(0x[0-9a-fA-F]+), "((?:[^"\\]|\\.)*)", (\d+)\)$/.exec(s.text)) !== null) {
          image.writeBytes(cint(m[1] as string), cstring(m[2] as string).slice(0, Number(m[3])));
          written = true;
        } else {
          const step = syscall(s.text, s.at);
          if (step !== null) steps.push(step);
        }
      }
    }
  };
  if (repeat) interpret(mainStmts);
  interpret(run);
  if (!written && steps.length > 0) {
    throw new ImportError(`${file}: the reproducer never writes the memory its calls' arguments point at (a fragment?)`);
  }
  return { steps, repeat, defaults, dataBase, readable };
}
