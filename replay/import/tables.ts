/**
 * The importers' tables, as TypeScript source generated from the capture formats vendored in
 * test/captures/formats/: QEMU's trace-events files (each event's arguments and format) and
 * syzkaller's dev_iommu.txt (the layout of each call's argument). `npm run import-tables`
 * writes them (write-tables.ts); a test checks that they match the vendored files.
 */

/** One `name(args) "format"` line of a trace-events file, its format with the PRI macros expanded. */
export interface TraceEventFormat {
  readonly args: readonly string[];
  readonly format: string;
}

/** What a `PRI` macro of <inttypes.h> expands to, as a conversion after `%`. */
const PRI: { readonly [macro: string]: string } = {
  PRIx64: 'llx',
  PRIu64: 'llu',
  PRId64: 'lld',
  PRIxPTR: 'lx',
  PRIx32: 'x',
  PRIu32: 'u',
  PRId32: 'd',
};

const C_ESCAPES: { readonly [c: string]: string } = { n: '\n', t: '\t', '"': '"', '\\': '\\' };

/** The format of a trace-events line: its string literals and PRI macros, concatenated as the C compiler would. */
function formatOf(rest: string, where: string): string {
  let out = '';
  let i = 0;
  while (i < rest.length) {
    const c = rest[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '"') {
      i++;
      while (i < rest.length && rest[i] !== '"') {
        if (rest[i] === '\\') {
          const escaped = C_ESCAPES[rest[i + 1] as string];
          if (escaped === undefined) throw new Error(`${where}: unknown escape \\${rest[i + 1]}`);
          out += escaped;
          i += 2;
        } else {
          out += rest[i];
          i++;
        }
      }
      i++;
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(rest.slice(i));
      const expanded = m === null ? undefined : PRI[m[0]];
      if (m === null || expanded === undefined) throw new Error(`${where}: cannot read ${rest.slice(i)}`);
      out += expanded;
      i += m[0].length;
    }
  }
  return out;
}

/** Every event of a trace-events file (docs/devel/tracing.rst: `name(args) "format"`; comments and blank lines skipped). */
export function parseTraceEvents(text: string, file: string): Map<string, TraceEventFormat> {
  const events = new Map<string, TraceEventFormat>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-z_][a-z0-9_]*)\(([^)]*)\)\s*(.*)$/.exec(line);
    if (m === null) throw new Error(`${file}:${i + 1}: not a trace event`);
    const [, name, params, rest] = m as unknown as [string, string, string, string];
    const args = params.trim() === 'void' ? [] : params.split(',').map((p) => /([A-Za-z0-9_]+)\s*$/.exec(p.trim())?.[1] ?? '');
    events.set(name, { args, format: formatOf(rest, `${file}:${i + 1}`) });
  });
  return events;
}

/** A field of a syzkaller struct, laid out as syzkaller lays it out (natural alignment). */
export interface SyzField {
  readonly name: string;
  readonly size: 1 | 2 | 4 | 8;
  /** `pointer`: a `ptr`/`ptr64`; `vma`: a `vma`/`vma64`; `resource`: a value another call made. */
  readonly kind: 'int' | 'pointer' | 'vma' | 'resource';
  /** A `const[X, ...]`'s X, which a program may leave out: syzkaller then writes X. */
  readonly const?: string;
}

/** A syzkaller call: what an `openat` opens, or what an `ioctl`'s argument is. */
export interface SyzCall {
  readonly open?: string;
  /** The argument's struct; `int` for a plain integer; absent when the call takes none. */
  readonly arg?: string;
}

export interface SyzDescriptions {
  readonly calls: { readonly [name: string]: SyzCall };
  readonly structs: { readonly [name: string]: readonly SyzField[] };
}

const INT_SIZE: { readonly [type: string]: 1 | 2 | 4 | 8 } = { int8: 1, int16: 2, int32: 4, int64: 8, fd: 4 };

/** The bracketed parameters of a syzlang type (`len[parent, int32]` → `parent`, `int32`), split at top-level commas. */
function params(type: string): string[] {
  const open = type.indexOf('[');
  if (open < 0) return [];
  const inner = type.slice(open + 1, type.lastIndexOf(']'));
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '[') depth++;
    else if (inner[i] === ']') depth--;
    else if (inner[i] === ',' && depth === 0) {
      out.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(inner.slice(start).trim());
  return out;
}

/** The syzlang description of dev_iommu (sys/linux/dev_iommu.txt): its calls and the structs they take. */
export function parseSyzDescriptions(text: string, file: string): SyzDescriptions {
  const resources = new Map<string, string>();
  const calls: { [name: string]: SyzCall } = {};
  const rawStructs = new Map<string, { line: number; fields: [string, string][] }>();
  let current: { line: number; fields: [string, string][] } | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') return;
    if (current !== null) {
      if (/^\}/.test(line)) current = null;
      else {
        // `name type [(out)]`: the type may hold spaces inside its brackets.
        const m = /^(\S+)\s+(.*?)(?:\s+\((?:in|out|inout)\))?$/.exec(line.trim());
        if (m === null) throw new Error(`${file}:${i + 1}: not a field`);
        current.fields.push([m[1] as string, m[2] as string]);
      }
      return;
    }
    let m = /^resource\s+(\S+)\[(\S+)\]/.exec(line);
    if (m !== null) {
      resources.set(m[1] as string, m[2] as string);
      return;
    }
    m = /^(\S+)\s*\{\s*$/.exec(line);
    if (m !== null) {
      current = { line: i + 1, fields: [] };
      rawStructs.set(m[1] as string, current);
      return;
    }
    m = /^((?:openat|ioctl)\$\S+)\((.*)\)(?:\s+\S+)?$/.exec(line);
    if (m !== null) {
      const args = params(`x[${m[2]}]`).map((a) => a.split(/\s+/));
      const name = m[1] as string;
      if (name.startsWith('openat')) {
        const path = /string\["([^"]*)"\]/.exec(m[2] as string)?.[1];
        if (path === undefined) throw new Error(`${file}:${i + 1}: an openat without a path`);
        calls[name] = { open: path };
        return;
      }
      const argType = args[2]?.slice(1).join(' ');
      if (argType === undefined) calls[name] = {};
      else if (argType.startsWith('ptr')) calls[name] = { arg: params(argType)[1] as string };
      else calls[name] = { arg: 'int' };
    }
  });
  const sizeOf = (type: string, where: string): SyzField['size'] => {
    const base = type.replace(/\[.*$/, '');
    if (INT_SIZE[base] !== undefined) return INT_SIZE[base];
    if (['len', 'const', 'flags', 'bytesize'].includes(base)) return sizeOf(params(type)[1] ?? 'int64', where);
    if (/^(ptr|ptr64|vma|vma64)$/.test(base)) return 8;
    const resource = resources.get(base);
    if (resource !== undefined) return sizeOf(resource, where);
    throw new Error(`${where}: no size for ${type}`);
  };
  const kindOf = (type: string): SyzField['kind'] => {
    const base = type.replace(/\[.*$/, '');
    if (base === 'ptr' || base === 'ptr64') return 'pointer';
    if (base === 'vma' || base === 'vma64') return 'vma';
    return resources.has(base) ? 'resource' : 'int';
  };
  const structs: { [name: string]: SyzField[] } = {};
  for (const [name, { line, fields }] of rawStructs) {
    structs[name] = fields.map(([field, type]) => {
      const constant = type.startsWith('const[') ? params(type)[0] : undefined;
      return { name: field, size: sizeOf(type, `${file}:${line}`), kind: kindOf(type), ...(constant === undefined ? {} : { const: constant }) };
    });
  }
  return { calls, structs };
}

const HEADER = (what: string, from: string) =>
  `/**\n * ${what}, generated by \`npm run import-tables\` (replay/import/write-tables.ts) from\n * ${from}. Do not edit: a test checks that it matches them.\n */\n`;

/** qemu-formats.ts: every event of the QEMU trace-events files. */
export function qemuFormatsSource(files: readonly { readonly name: string; readonly text: string }[]): string {
  const events = new Map<string, TraceEventFormat>();
  for (const f of files) for (const [name, e] of parseTraceEvents(f.text, f.name)) events.set(name, e);
  const body = [...events]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, e]) => `  ${name}: { args: ${JSON.stringify(e.args)}, format: ${JSON.stringify(e.format)} },`)
    .join('\n');
  return (
    HEADER("QEMU's trace events: each one's arguments and format", files.map((f) => `test/captures/formats/${f.name}`).join(' and ')) +
    "import type { TraceEventFormat } from './tables.ts';\n\n" +
    'export const QEMU_TRACE_EVENTS: { readonly [name: string]: TraceEventFormat } = {\n' +
    `${body}\n};\n`
  );
}

/** syz-descriptions.ts: syzkaller's dev_iommu calls and structs. */
export function syzDescriptionsSource(file: { readonly name: string; readonly text: string }): string {
  const { calls, structs } = parseSyzDescriptions(file.text, file.name);
  const callLines = Object.entries(calls).map(([name, c]) => `    ${JSON.stringify(name)}: ${JSON.stringify(c)},`);
  const structLines = Object.entries(structs).map(([name, fields]) => `    ${JSON.stringify(name)}: ${JSON.stringify(fields)},`);
  return (
    HEADER("syzkaller's descriptions of /dev/iommu: each call and the layout of the struct it takes", `test/captures/formats/${file.name}`) +
    "import type { SyzDescriptions } from './tables.ts';\n\n" +
    'export const SYZ_DEV_IOMMU: SyzDescriptions = {\n' +
    `  calls: {\n${callLines.join('\n')}\n  },\n` +
    `  structs: {\n${structLines.join('\n')}\n  },\n};\n`
  );
}
