/**
 * Sizes: lines one byte either side of the line limit (a character of several bytes across it,
 * CRLF or no line end at all), files with nothing in them, up to 20,000 lines, arrays of up to
 * 20,000 items, strings of hundreds of kilobytes in every kind of value, and each
 * struct's `size` or `argsz` from 0 to past 2^32, with and without `__trailing`.
 */
import { DEFAULT_MAX_LINE_BYTES } from '../../../events/trace-reader.ts';
import { PLANS } from '../../../events/op-plan.ts';
import type { Bases } from '../bases.ts';
import { fileOf, type Made } from '../hostile-file.ts';
import { type Json, text } from '../json-text.ts';
import type { Rng } from '../rng.ts';

const HEADER = '{"trace":"iommufd","version":"1.1","env":{}}';
const MEMORY = '{"op":"MMAP","args":{"addr":"0x7f0000000000","length":"0x400000"}}';
const IOMMUFD = ['{"op":"OPEN"}', '{"op":"IOAS_ALLOC"}'];

/** The limits tried; the default (1 MiB) is the costly one, and is tried least. */
const LIMITS = [16, 64, 1000, 4096, 65536, 16, 64, 1000, 4096, 65536, DEFAULT_MAX_LINE_BYTES];
const FILLERS = ['x', 'x', '\u00e9', '\u20ac', '\u{1f600}'];

/** A line of exactly `bytes` bytes of UTF-8: an event with a long note, or a comment when that is too long. */
function lineOf(rng: Rng, bytes: number): string {
  const [open, close] = bytes >= 30 ? ['{"op":"FORK","note":"', '"}'] : ['#', ''];
  let fill = '';
  let left = bytes - open.length - close.length;
  while (left >= 4) {
    const c = rng.pick(FILLERS);
    fill += c;
    left -= Buffer.byteLength(c);
  }
  return `${open}${fill}${'x'.repeat(Math.max(0, left))}${close}`;
}

function lineLimit(rng: Rng): Made {
  const limit = rng.pick(LIMITS);
  const bytes = limit + rng.between(-1, 1);
  const eol = rng.pick(['\n', '\r\n', '']);
  const long = lineOf(rng, bytes);
  const lines = [HEADER, '{"op":"OPEN"}', long, '{"op":"CLOSE","args":{"fd":3}}'];
  if (rng.chance(0.3)) lines.splice(0, 3, long);
  const content = Buffer.from(`${lines.slice(0, -1).join(eol === '' ? '\n' : eol)}${eol === '' ? '\n' : eol}${lines[lines.length - 1]}${eol}`);
  return {
    what: `a line of ${bytes} bytes under a limit of ${limit}, ended by ${JSON.stringify(eol)}`,
    content,
    ...(limit === DEFAULT_MAX_LINE_BYTES ? {} : { maxLineBytes: limit }),
  };
}

const NEARLY_EMPTY = ['', '\n', '\n\n\n', '# only a comment\n', '\ufeff', '   \n\t\n', '{}\n', '[]\n', 'null\n', '1\n', '"x"\n', '{"trace":"iommufd"}\n', HEADER, `${HEADER}${'\n'.repeat(5000)}`, `${'#\n'.repeat(5000)}${HEADER}\n`];

/** Lines that cost the model little each, and lines that each make a mapping: these come fewer. */
const CHEAP_CYCLES: readonly (readonly string[])[] = [
  ['{"op":"OPEN","expect":{"out":{"fd":4}}}', '{"op":"CLOSE","args":{"fd":4}}'],
  ['{"op":"IOAS_ALLOC","expect":{"out":{"out_ioas_id":2}}}', '{"op":"DESTROY","args":{"id":2}}'],
  ['{"op":"CHECK","args":{"what":"locked_vm","value":0}}'],
  ['{"op":"IOAS_UNMAP","args":{"ioas_id":1,"iova":0,"length":"U64_MAX"},"expect":{"errno":"EINVAL"}}'],
  [''],
  ['# a comment'],
];
const COSTLY_CYCLES: readonly (readonly string[])[] = [
  ['{"op":"MMAP","args":{"addr":"0x7f0000000000","length":"0x1000"}}', '{"op":"MUNMAP","args":{"addr":"0x7f0000000000","length":"0x1000"}}'],
  ['{"op":"IOAS_MAP","args":{"ioas_id":1,"user_va":"0x7f0000000000","length":"0x1000","flags":["READABLE"]}}'],
];

function manyLines(rng: Rng): Made {
  const costly = rng.chance(0.3);
  const cycle = rng.pick(costly ? COSTLY_CYCLES : CHEAP_CYCLES);
  const count = costly ? rng.pick([1000, 5000]) : rng.pick([2000, 5000, 20_000]);
  const events = Array.from({ length: count }, (_, i) => cycle[i % cycle.length] as string);
  return { what: `${count} lines of ${JSON.stringify((cycle[0] as string).slice(0, 40))}`, content: fileOf([HEADER, ...IOMMUFD, MEMORY, ...events]) };
}

function hugeArray(rng: Rng): Made {
  const n = rng.pick([1000, 1000, 20_000]);
  const range = (i: number): Json => {
    const start = BigInt(i) * 0x2000n;
    return rng.chance(0.9) ? { start: `0x${start.toString(16)}`, last: `0x${(start + 0xfffn).toString(16)}` } : { start: 'U64_MAX', last: 0 };
  };
  const choices: (() => [string, string[]])[] = [
    () => ['allowed_iovas', [...IOMMUFD, text({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: Array.from({ length: n }, (_, i) => range(i)) } })]],
    () => ['allowed_iovas, num_iovas 1', [...IOMMUFD, text({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, num_iovas: 1, allowed_iovas: Array.from({ length: n }, (_, i) => range(i)) } })]],
    () => ['IOVA ranges expected', [...IOMMUFD, text({ op: 'IOAS_IOVA_RANGES', args: { ioas_id: 1, num_iovas: n, allowed_iovas: '0x7f0000000000' }, expect: { out: { allowed_iovas: Array.from({ length: n }, (_, i) => range(i)) } } })]],
    () => ['records written', [...IOMMUFD, text({ op: 'FD_WRITE', args: { fd: 3, records: Array.from({ length: n }, (_, i) => ({ i })) } })]],
    () => ['records read', [...IOMMUFD, text({ op: 'FD_READ', args: { fd: 3 }, expect: { out: { records: Array.from({ length: n }, (_, i) => ({ i })) } } })]],
    () => ['unknown_args', [text({ op: 'IOAS_MAP', unknown_args: Array.from({ length: n }, () => 'length') })]],
    () => ['args_one_of', [text({ op: 'IOAS_MAP', args_one_of: { length: Array.from({ length: n }, (_, i) => i) } })]],
    () => ['inferred', [text({ op: 'IOAS_ALLOC', inferred: Array.from({ length: n }, () => 'out_ioas_id'), expect: { out: { out_ioas_id: 1 } } })]],
    () => ['data records', [...IOMMUFD, text({ op: 'HWPT_INVALIDATE', args: { hwpt_id: 1, data: Array.from({ length: n }, (_, i) => ({ i })) } })]],
  ];
  const headers: (() => [string, string])[] = [
    () => ['mappings', text({ trace: 'iommufd', version: '1.1', env: { mappings: Array.from({ length: n }, (_, i) => ({ addr: `0x${(0x7f0000000000 + i * 0x2000).toString(16)}`, length: '0x1000' })) } })],
    () => ['processes', text({ trace: 'iommufd', version: '1.1', env: { processes: Array.from({ length: n }, (_, i) => ({ pid: i + 1 })) } })],
    () => ['devices', text({ trace: 'iommufd', version: '1.1', env: { devices: Array.from({ length: n }, (_, i) => ({ name: `d${i}`, kind: rng.pick(['mock', 'intel-vtd']), group: i, cdev: i % 1_048_576 })) } })],
  ];
  if (rng.chance(0.25)) {
    const [what, header] = rng.pick(headers)();
    return { what: `header ${what}: ${n} items`, content: fileOf([header, ...IOMMUFD]) };
  }
  const [what, lines] = rng.pick(choices)();
  return { what: `${what}: ${n} items`, content: fileOf([HEADER, MEMORY, ...lines]) };
}

function longString(rng: Rng): Made {
  const n = rng.pick([100_000, 200_000]);
  const s = 'a'.repeat(n);
  const hex = `0x${'00'.repeat(n / 2)}`;
  const lines: [string, string][] = [
    ['path', text({ op: 'OPEN', args: { path: `/dev/${s}` } })],
    ['op', text({ op: `OPEN${s}` })],
    ['a key', text({ op: 'OPEN', args: { [s]: 1 } })],
    ['a note', text({ op: 'OPEN', note: s })],
    ['an errno', text({ op: 'OPEN', expect: { errno: `E${s}` } })],
    ['a number', text({ op: 'CLOSE', args: { fd: `0x${'0'.repeat(n)}3` } })],
    ['a decimal', text({ op: 'CLOSE', args: { fd: '9'.repeat(n) } })],
    ['__trailing', text({ op: 'IOAS_ALLOC', args: { size: 12 + n / 2, __trailing: hex } })],
    ['__trailing, size too small', text({ op: 'IOAS_ALLOC', args: { size: 13, __trailing: hex } })],
    ['data', text({ op: 'HWPT_ALLOC', args: { dev_id: 4, pt_id: 1, data_type: 'SELFTEST', data: hex } })],
    ['a device name', text({ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: s, iommufd: 3 } })],
    ['the header', text({ trace: 'iommufd', version: '1.1', env: {}, description: s })],
  ];
  const [what, line] = rng.pick(lines);
  const content = what === 'the header' ? fileOf([line, ...IOMMUFD]) : fileOf([HEADER, ...IOMMUFD, line, '{"op":"FORK"}']);
  return { what: `a string of ${n} characters in ${what}`, content };
}

const STRUCT_OPS = [...PLANS].filter(([, plan]) => plan.record?.struct.sizeField != null);

function sizeField(rng: Rng): Made {
  const [op, plan] = rng.pick(STRUCT_OPS);
  const struct = plan.record?.struct;
  if (struct === undefined || struct.sizeField === null) throw new Error(`${op} has no size field`);
  const size = rng.pick([0, 1, struct.minSize - 1, struct.minSize, struct.size, struct.size + 1, struct.size + 8, 4096, 0xffffffff, 0x100000000]);
  const extra = Math.max(0, Math.min(size - struct.size, 1 << 16));
  const trailing = rng.pick([undefined, `0x${'00'.repeat(extra)}`, `0x${'01'.repeat(extra)}`, '0x00']);
  const args = { [struct.sizeField]: size, ...(trailing === undefined ? {} : { __trailing: trailing }) };
  return {
    what: `${op} ${struct.sizeField} ${size}${trailing === undefined ? '' : ` with ${(trailing.length - 2) / 2} trailing bytes`}`,
    content: fileOf([HEADER, ...IOMMUFD, MEMORY, text({ op, args })]),
  };
}

export function sizes(rng: Rng, _bases: Bases): Made {
  switch (rng.int(6)) {
    case 0:
      return lineLimit(rng);
    case 1: {
      const content = rng.pick(NEARLY_EMPTY);
      return { what: `nearly empty: ${JSON.stringify(content.slice(0, 30))}`, content: Buffer.from(content) };
    }
    case 2:
      return manyLines(rng);
    case 3:
      return hugeArray(rng);
    case 4:
      return longString(rng);
    default:
      return sizeField(rng);
  }
}
