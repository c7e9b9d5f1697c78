/**
 * Input written to break the reader: nesting a hundred thousand levels deep, keys given twice,
 * bytes that are not UTF-8, values and file names that would break or reorder a report line,
 * numbers past a double, files that cannot be read. Each ends in the one-line
 * `file:line: reason` the format promises, quickly, with the file closed.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceError, openTrace, parseTraceText } from '../../events/index.ts';
import { splitLines } from '../../events/line-splitter.ts';
import { HEADER, expectBadEvent, expectBadHeader, expectMalformed, lines, parseOne, readFile, tempFile } from './helpers.ts';

const nest = (depth: number, inner = '1'): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

/** The error `run` rejects or throws with. */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, nothing was thrown');
}

describe('nesting', () => {
  it('takes 64 levels and refuses the 65th, counting the line itself', async () => {
    // The event object is level 1, `note` levels 2 to 64.
    expect(parseOne(`{"op":"OPEN","note":${nest(63)}}`).extra.note).toBeDefined();
    await expectBadEvent(`{"op":"OPEN","note":${nest(64)}}`, 'nested deeper than 64 levels at position 83');
    await expectBadHeader(`{"trace":"iommufd","version":1,"x":${nest(64)}}`, 'nested deeper than 64 levels at position 98');
  });

  it.each([
    ['params', (deep: string) => `{"trace":"iommufd","version":1,"params":{"p":${deep}}}`, 1],
    ['a device field', (deep: string) => `{"trace":"iommufd","version":1,"env":{"devices":[{"name":"d","kind":"k","x":${deep}}]}}`, 1],
    ['data', (deep: string) => `{"op":"HWPT_ALLOC","args":{"data":${deep}}}`, 2],
    ['records', (deep: string) => `{"op":"FD_WRITE","args":{"records":[{"r":${deep}}]}}`, 2],
    ['expect.out', (deep: string) => `{"op":"FD_READ","expect":{"out":{"records":[{"r":${deep}}]}}}`, 2],
    ['seq', (deep: string) => `{"op":"OPEN","seq":${deep}}`, 2],
    ['a line that is not JSON either', (deep: string) => `{"op":"OPEN","seq":${deep}`, 2],
  ])('refuses 100,000 levels in %s without recursing', async (_where, line, at) => {
    const deep = nest(100_000, `{"a":${nest(10)}}`);
    const text = at === 1 ? lines(line(deep)) : lines(HEADER, line(deep));
    const started = performance.now();
    const e = await failure(() => parseTraceText(text, 'deep.jsonl'));
    expect(e).toBeInstanceOf(TraceError);
    expect((e as TraceError).line).toBe(at);
    expect((e as TraceError).reason).toMatch(/^nested deeper than 64 levels at position \d+$/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a deep value in a field that would reject it, before its message tries to print it', async () => {
    await expectBadEvent(`{"op":"IOAS_MAP","args":{"length":${nest(4000)}}}`, 'nested deeper than 64 levels at position 96');
    // At 60 levels the value is read, and the message quotes its start.
    await expectBadEvent(
      `{"op":"IOAS_MAP","args":{"length":${nest(60)}}}`,
      `IOAS_MAP args.length: ${'['.repeat(60)}1${']'.repeat(16)}... is not a number`,
    );
  });
});

describe('duplicate keys', () => {
  it.each([
    ['{"op":"BOGUS","op":"OPEN"}', 'key "op" is given twice'],
    ['{"op":"OPEN","op":"OPEN"}', 'key "op" is given twice'],
    ['{"op":"OPEN","\\u006fp":"OPEN"}', 'key "op" is given twice'],
    ['{"op":"OPEN","args":{"path":"/dev/iommu","path":"/dev/vfio/vfio"}}', 'args: key "path" is given twice'],
    [
      '{"op":"IOAS_ALLOW_IOVAS","args":{"allowed_iovas":[{"start":0,"last":1},{"start":2,"last":3,"start":4}]}}',
      'args.allowed_iovas[1]: key "start" is given twice',
    ],
    ['{"op":"OPEN","expect":{"out":{"fd":3,"fd":4}}}', 'expect.out: key "fd" is given twice'],
    ['{"op":"OPEN","note":{"a\\\\":1,"a\\\\":2}}', 'note: key "a\\\\" is given twice'],
    ['{"op":"OPEN","note":[[{"x":{"k":1}},{"x":1,"y":{"z":[0,{"q":1,"q":1}]}}]]}', 'note[0][1].y.z[1]: key "q" is given twice'],
  ])('refuses %s', async (event, reason) => {
    await expectBadEvent(event, reason);
  });

  it('refuses one given twice in the header', async () => {
    await expectBadHeader('{"trace":"iommufd","version":1,"env":{"page_size":4096,"page_size":65536}}', 'env: key "page_size" is given twice');
    await expectBadHeader('{"trace":"iommufd","version":1,"version":"1.1"}', 'key "version" is given twice');
  });

  it('takes the same key in different objects, and keys that only look alike', () => {
    const event = parseOne('{"op":"OPEN","a":{"k":1},"b":{"k":2},"c":[{"k":3},{"k":4}],"d":{"k\\"":1,"k":2,"K":3,"kk":4}}');
    expect(event.extra).toEqual({ a: { k: 1 }, b: { k: 2 }, c: [{ k: 3 }, { k: 4 }], d: { 'k"': 1, k: 2, K: 3, kk: 4 } });
  });

  it('finds a repeat among many keys in time linear in the line', async () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`);
    expect(Object.keys(parseOne(`{"op":"OPEN","note":{${keys.join(',')}}}`).extra.note as object)).toHaveLength(50_000);
    const started = performance.now();
    await expectBadEvent(`{"op":"OPEN","note":{${keys.join(',')},"k49999":0}}`, 'note: key "k49999" is given twice');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('messages', () => {
  it('quote at most about 80 characters of a value, marking the cut', async () => {
    await expectBadEvent(
      { op: 'IOAS_MAP', args: { length: 'x'.repeat(1_000_000) } },
      `IOAS_MAP args.length: "${'x'.repeat(76)}... is not a number`,
    );
    await expectBadEvent(
      { op: 'OPEN', args: { path: Array.from({ length: 100_000 }, () => ({ a: 1 })) } },
      `OPEN args.path: [${'{"a":1},'.repeat(10).slice(0, 76)}... is not a string`,
    );
  });

  it('quote at most about 80 characters of a key', async () => {
    await expectBadEvent({ op: 'OPEN', args: { ['k'.repeat(100_000)]: 1 } }, `OPEN args.${'k'.repeat(77)}...: not an argument of OPEN`);
  });

  it('escape line breaks, controls and bidi overrides in values and keys', async () => {
    await expectBadEvent(
      { op: 'OPEN', args: { 'a\u2028b\u202ec\u2066d\u200fe\u0085f\ufeff\u0000': 1 } },
      'OPEN args.a\\u2028b\\u202ec\\u2066d\\u200fe\\u0085f\\ufeff\\u0000: not an argument of OPEN',
    );
    await expectBadEvent({ op: 'OPEN', args: { path: ['\u202e\n'] } }, 'OPEN args.path: ["\\u202e\\n"] is not a string');
    // A lone surrogate is escaped; a pair is a character, and is kept whole.
    await expectBadEvent({ op: 'OPEN', args: { '\ud800😀': 1 } }, 'OPEN args.\\ud800😀: not an argument of OPEN');
  });

  it('escape the file name, so that the report stays one line and reads as stored', async () => {
    const file = 'a\nb\u202ec.jsonl';
    const bad = lines(HEADER, '{"op":"NOPE"}');
    for (const e of [
      await failure(() => parseTraceText(bad, file)),
      await failure(() => readFile(tempFile(bad), { file })),
    ]) {
      expect(e).toBeInstanceOf(TraceError);
      expect((e as TraceError).file).toBe(file);
      expect((e as Error).message).toBe('a\\u000ab\\u202ec.jsonl:2: op: "NOPE" is not an op of trace format 1.1');
    }
  });

  it('say "out of range", with the range, for numbers past a field\'s type', async () => {
    await expectBadEvent('{"op":"OPEN","seq":1e20}', 'OPEN seq: 100000000000000000000 is out of range for seq (0 to 2^53 - 1)');
    await expectBadEvent('{"op":"IOAS_MAP","args":{"ioas_id":1e19}}', 'IOAS_MAP args.ioas_id: 10000000000000000000 is out of range for u32 (0 to 2^32 - 1)');
    await expectBadEvent('{"op":"IOAS_MAP","args":{"flags":1e300}}', 'IOAS_MAP args.flags: 1e+300 is out of range for u32 (0 to 2^32 - 1)');
  });

  it('refuse a number a double reads as infinite or as 0, wherever it is, before any field reads it', async () => {
    const infinite = (n: string) => `${n} is out of range for a double (it would read as ${n.startsWith('-') ? '-' : ''}Infinity)`;
    const zero = (n: string) => `${n} is out of range for a double (it would read as 0)`;
    await expectBadEvent('{"op":"IOAS_MAP","args":{"length":1e400}}', `args.length: ${infinite('1e400')}`);
    await expectBadEvent('{"op":"IOAS_MAP_FILE","args":{"fd":-1e400}}', `args.fd: ${infinite('-1e400')}`);
    await expectBadEvent('{"op":"OPEN","seq":1e400}', `seq: ${infinite('1e400')}`);
    await expectBadEvent('{"op":"HWPT_ALLOC","args":{"data":{"iotlb":1E+400}}}', `args.data.iotlb: ${infinite('1E+400')}`);
    await expectBadEvent(`{"op":"OPEN","note":[0,${'9'.repeat(400)}]}`, `note[1]: ${infinite(`${'9'.repeat(77)}...`).replace('-', '')}`);
    // Read as 0, these would pass for 0: a file descriptor, a length, a record's field, a key of no meaning.
    await expectBadEvent('{"op":"CLOSE","args":{"fd":1e-400}}', `args.fd: ${zero('1e-400')}`);
    await expectBadEvent('{"op":"MMAP","args":{"length":-1e-400}}', `args.length: ${zero('-1e-400')}`);
    await expectBadEvent('{"op":"FD_WRITE","args":{"fd":3,"records":[{"a":1,"b":2e-324}]}}', `args.records[0].b: ${zero('2e-324')}`);
    await expectBadEvent(`{"op":"OPEN","ts":0.${'0'.repeat(400)}1}`, `ts: ${zero(`0.${'0'.repeat(75)}...`)}`);
    await expectBadHeader('{"trace":"iommufd","version":1,"env":{"page_size":1e400}}', `env.page_size: ${infinite('1e400')}`);
    await expectBadHeader('{"trace":"iommufd","version":1e-400}', `version: ${zero('1e-400')}`);
    await expectBadHeader('{"trace":"iommufd","version":1,"env":{"devices":[{"name":"d","kind":"k","max_pasid_log2":1e-999}]}}', `env.devices[0].max_pasid_log2: ${zero('1e-999')}`);
    // 0 written with an exponent is 0, and the smallest double and the largest are doubles.
    expect(parseOne('{"op":"CLOSE","args":{"fd":0e-400}}').args?.fields.fd).toBe(0n);
    expect(parseOne('{"op":"OPEN","note":[5e-324,1.7976931348623157e308,-0.0e999]}').extra.note).toEqual([5e-324, 1.7976931348623157e308, -0]);
  });
});

describe('encoding', () => {
  const bytes = (...parts: (string | number[])[]): Buffer =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  it('refuses bytes that are not UTF-8, naming the line and the byte', async () => {
    for (const bad of [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]]) {
      const path = tempFile(bytes(`${HEADER}\n{"op":"FORK"}\n{"op":"OPEN","note":"é`, bad, '"}\n{"op":"FORK"}\n'));
      for (const chunkBytes of [1, 3, 64, 1 << 14]) {
        const got: string[] = [];
        const e = await failure(async () => {
          for await (const batch of splitLines(path, { file: 'u.jsonl', maxLineBytes: 1000, chunkBytes })) got.push(...batch);
        });
        expect(e).toEqual(new TraceError('u.jsonl', 3, 'invalid UTF-8 at byte 23'));
        expect(got).toEqual([HEADER, '{"op":"FORK"}']);
      }
    }
  });

  it('refuses a last line without a newline that is not UTF-8', async () => {
    const e = await failure(() => readFile(tempFile(bytes(`${HEADER}\n{"op":"OPEN"}`, [0x80])), { file: 'u.jsonl' }));
    expect(e).toEqual(new TraceError('u.jsonl', 2, 'invalid UTF-8 at byte 13'));
  });

  it('skips a byte order mark that opens the file, through both readers', async () => {
    const text = `\ufeff${lines(HEADER, '{"op":"OPEN"}')}`;
    for (const chunkBytes of [1, 2, 5]) {
      const got: string[] = [];
      for await (const batch of splitLines(tempFile(text), { file: 'b', maxLineBytes: 100, chunkBytes })) got.push(...batch);
      expect(got).toEqual([HEADER, '{"op":"OPEN"}']);
    }
    expect((await readFile(tempFile(text))).events.map((e) => e.op)).toEqual(['OPEN']);
    expect(parseTraceText(text).events.map((e) => e.op)).toEqual(['OPEN']);
    // Before a blank line or a comment, and as a whole file.
    expect(parseTraceText(`\ufeff# c\n${HEADER}\n`).header.version).toBe('1');
    expect((await readFile(tempFile(`\ufeff${HEADER}`))).header.version).toBe('1');
  });

  it('takes a byte order mark anywhere else as the character it is, escaped in the report', async () => {
    await expectMalformed(
      lines(HEADER, '\ufeff{"op":"OPEN"}'),
      2,
      'invalid JSON: Unexpected token \'\\ufeff\', "\\ufeff{"op":"OPEN"}" is not valid JSON',
    );
  });
});

describe('the line limit', () => {
  it('does not count the \\r of a \\r\\n, at any chunk size', async () => {
    const path = tempFile(`${'a'.repeat(10)}\r\n${'b'.repeat(10)}\r\r\n${'c'.repeat(9)}\r`);
    for (const chunkBytes of [1, 2, 10, 11, 12, 13, 64]) {
      const got: string[] = [];
      const e = await failure(async () => {
        for await (const batch of splitLines(path, { file: 'f', maxLineBytes: 10, chunkBytes })) got.push(...batch);
      });
      expect(e).toEqual(new TraceError('f', 2, 'line is longer than 10 bytes'));
      expect(got).toEqual([`${'a'.repeat(10)}\r`]);
    }
  });

  it('does not count a \\r that ends the file', async () => {
    const path = tempFile(`${'a'.repeat(10)}\r\n${'c'.repeat(10)}\r`);
    for (const chunkBytes of [1, 3, 11, 64]) {
      const got: string[] = [];
      for await (const batch of splitLines(path, { file: 'f', maxLineBytes: 10, chunkBytes })) got.push(...batch);
      expect(got).toEqual([`${'a'.repeat(10)}\r`, `${'c'.repeat(10)}\r`]);
    }
  });

  it('accepts a CRLF line of exactly 1 MiB', async () => {
    const event = `{"op":"OPEN","note":"${'x'.repeat((1 << 20) - 23)}"}`;
    expect(event).toHaveLength(1 << 20);
    const path = tempFile(`${HEADER}\r\n${event}\r\n${event}x\r\n`);
    const trace = await openTrace(path, { file: 'crlf.jsonl' });
    let read = 0;
    const e = await failure(async () => {
      for await (const batch of trace.batches) read += [...batch].length;
    });
    expect(read).toBe(1);
    expect(e).toEqual(new TraceError('crlf.jsonl', 3, 'line is longer than 1048576 bytes'));
  });
});

describe('files that cannot be read', () => {
  const dir = join(dirname(tempFile('')), 'dir');
  mkdirSync(dir, { recursive: true });

  it.each([
    ['a file that is not there', join(dir, 'missing.jsonl'), 'ENOENT (no such file or directory)'],
    ['a directory', dir, 'EISDIR (illegal operation on a directory)'],
    ['a name too long for the system', join(dir, 'n'.repeat(5000)), 'ENAMETOOLONG (name too long)'],
  ])('%s: line 0, and no path or stack in the reason', async (_what, path, reason) => {
    const e = await failure(() => openTrace(path, { file: 'x.jsonl' }));
    expect(e).toEqual(new TraceError('x.jsonl', 0, `cannot read: ${reason}`));
    expect((e as TraceError).message).toBe(`x.jsonl:0: cannot read: ${reason}`);
  });
});

describe('file handles', () => {
  const openFiles = (): number => readdirSync('/proc/self/fd').length;
  const events = Array.from({ length: 3000 }, (_, i) => `{"op":"OPEN","seq":${i}}`);
  const good = tempFile(lines(HEADER, ...events));

  it.each([
    ['a header that is not valid', lines('{"trace":"iommufd","version":1,"env":{"devices":[{"kind":"mock"}]}}', ...events)],
    ['no header', lines('# nothing', '')],
    ['a line that is not JSON, past the first chunk', lines(HEADER, ...events, '{', ...events)],
    ['a line too long, past the first chunk', lines(HEADER, ...events, `{"op":"OPEN","note":"${'x'.repeat(1 << 20)}"}`)],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(lines(HEADER, ...events)), Buffer.from([0xff, 0x0a])])],
    ['nesting too deep', lines(HEADER, ...events, `{"op":"OPEN","note":${nest(100)}}`, ...events)],
  ])('are closed after %s', async (_what, content) => {
    const path = tempFile(content);
    const before = openFiles();
    // A handle left open on any path would show a hundred times over.
    for (let i = 0; i < 100; i++) expect(await failure(() => readFile(path))).toBeInstanceOf(TraceError);
    expect(openFiles() - before).toBe(0);
  });

  it.each([
    [
      'stops after one event',
      async () => {
        const trace = await openTrace(good);
        for await (const batch of trace.batches) for (const _ of batch) return;
      },
    ],
    [
      'throws in its loop',
      async () => {
        const trace = await openTrace(good);
        await failure(async () => {
          for await (const batch of trace.batches) for (const _ of batch) throw new Error('the consumer gives up');
        });
      },
    ],
    ['closes without reading', async () => (await openTrace(good)).close()],
  ])('are closed when the consumer %s', async (_what, consume) => {
    const before = openFiles();
    for (let i = 0; i < 100; i++) await consume();
    expect(openFiles() - before).toBe(0);
  });
});
