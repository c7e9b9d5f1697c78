/**
 * What the reader makes of valid traces: defaults, numbers, names, nested members, inline
 * arrays and data, and the streaming reader's line handling.
 */
import { describe, expect, it } from 'vitest';
import { TraceError, openTrace, parseTraceText } from '../../events/index.ts';
import { splitLines } from '../../events/line-splitter.ts';
import { HEADER, lines, parseHeaderOnly, parseOne, readFile, tempFile } from './helpers.ts';

const U64_MAX = (1n << 64n) - 1n;

describe('header', () => {
  it('fills in the defaults of an empty env', () => {
    const header = parseHeaderOnly(HEADER);
    expect(header).toEqual({
      version: '1',
      env: {
        pageSize: 4096n,
        hugepageSize: 2097152n,
        memory: 'any',
        mappings: [],
        processes: [{ pid: 1, uid: 0, rlimitMemlock: null, caps: [] }],
        devices: [],
        vfio: null,
        kernel: null,
        extra: {},
      },
      params: {},
      extra: {},
    });
    expect(parseHeaderOnly('{"trace":"iommufd","version":1}')).toEqual(header);
  });

  it('reads a full header, keeping unknown keys', () => {
    const header = parseHeaderOnly({
      trace: 'iommufd',
      version: 1,
      env: {
        page_size: 65536,
        hugepage_size: '0x20000000',
        memory: 'declared',
        mappings: [{ addr: '0x7ffe00000000', length: '0x100000', shared: false, prot: ['READ', 'WRITE'] }],
        processes: [
          { pid: 1, uid: 1000, rlimit_memlock: '0x10000000', caps: [] },
          { pid: 7, caps: ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE'] },
        ],
        devices: [{ name: 'dev0', kind: 'mock', aperture: { start: '0x1000000', last: 2147483647 }, dirty: true }],
        swap: 'off',
        kernel: '6.17',
      },
      kernel: 'a build of 6.17 (free text)',
      params: { 'vfio_iommu_type1.dma_entry_limit': 65535 },
      source: { file: 'x.c' },
      description: 'a trace',
    });
    expect(header.env.pageSize).toBe(65536n);
    expect(header.env.hugepageSize).toBe(0x20000000n);
    expect(header.env.memory).toBe('declared');
    expect(header.env.mappings).toEqual([{ addr: 0x7ffe00000000n, length: 0x100000n, shared: false, prot: 3n }]);
    expect(header.env.processes).toEqual([
      { pid: 1, uid: 1000, rlimitMemlock: 0x10000000n, caps: [] },
      { pid: 7, uid: 0, rlimitMemlock: null, caps: ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE'] },
    ]);
    expect(header.env.devices).toEqual([
      { name: 'dev0', kind: 'mock', params: { aperture: { start: 0x1000000n, last: 0x7fffffffn }, dirty: true } },
    ]);
    expect(header.env.extra).toEqual({ swap: 'off' });
    expect(header.env.kernel).toBe('6.17');
    expect(header.params).toEqual({ 'vfio_iommu_type1.dma_entry_limit': 65535n });
    expect(header.extra).toEqual({ kernel: 'a build of 6.17 (free text)', source: { file: 'x.c' }, description: 'a trace' });
  });

  it('takes every page size Linux builds with, huge pages from there to 16 GiB, and mappings that touch', () => {
    for (const pageSize of [4096, 8192, 16384, 32768, 65536, 262144]) {
      const header = parseHeaderOnly({ trace: 'iommufd', version: 1, env: { page_size: pageSize, hugepage_size: pageSize } });
      expect(header.env.pageSize).toBe(BigInt(pageSize));
      expect(header.env.hugepageSize).toBe(BigInt(pageSize));
    }
    expect(parseHeaderOnly({ trace: 'iommufd', version: 1, env: { hugepage_size: '0x400000000' } }).env.hugepageSize).toBe(1n << 34n);
    const mappings = [
      { addr: '0x10000', length: 1 },
      { addr: '0x11000', length: '0x1000' },
      { addr: '0x200000', length: 1, hugepage: true },
      { addr: '0xfffffffffffff000', length: '0x1000' },
    ];
    expect(parseHeaderOnly({ trace: 'iommufd', version: 1, env: { mappings } }).env.mappings).toHaveLength(4);
  });

  it('keeps the declared version, as a number or a string', () => {
    for (const [version, declared] of [[1, '1'], ['1', '1'], [1.1, '1.1'], ['1.1', '1.1']] as const) {
      expect(parseHeaderOnly({ trace: 'iommufd', version }).version).toBe(declared);
    }
  });

  it('takes the first line that is neither blank nor a comment as the header, counting every line', () => {
    const { header, events } = parseTraceText(lines('# captured by hand', '', HEADER, '  # note', '{"op":"FORK"}'));
    expect(header.env.pageSize).toBe(4096n);
    expect(events.map((e) => e.line)).toEqual([5]);
  });
});

describe('event defaults', () => {
  it('gives a struct op without args every field: size is sizeof, the rest 0, pointers NULL', () => {
    const event = parseOne('{"op":"IOAS_ALLOW_IOVAS"}');
    expect(event).toEqual({
      line: 2,
      seq: null,
      op: 'IOAS_ALLOW_IOVAS',
      args: {
        size: 24,
        fields: { size: 24n, ioas_id: 0n, num_iovas: 0n, __reserved: 0n, allowed_iovas: null },
        trailing: new Uint8Array(0),
      },
      unsure: false,
      extra: {},
    });
    expect(parseOne('{"op":"IOAS_ALLOW_IOVAS","args":{}}')).toEqual(event);
  });

  it('keeps "args": null as a NULL argument', () => {
    expect(parseOne('{"op":"DESTROY","args":null}').args).toBeNull();
  });

  it('gives a plain op only the arguments given', () => {
    expect(parseOne('{"op":"OPEN"}').args).toEqual({ size: 0, fields: {}, trailing: new Uint8Array(0) });
    expect(parseOne('{"op":"MMAP","args":{"length":"0x1000","shared":true}}').args?.fields).toEqual({
      length: 0x1000n,
      shared: true,
    });
  });

  it('reads the envelope and keeps other keys verbatim', () => {
    const event = parseOne({
      seq: 7,
      pid: 2,
      fd: 4,
      op: 'OPEN',
      expect: { out: { fd: 5 } },
      inferred: true,
      unsure: true,
      fail_nth: 3,
      note: 'n',
      ts: 1.5,
      tid: { a: [1] },
    });
    expect(event).toMatchObject({ seq: 7, pid: 2, fd: 4, inferred: true, unsure: true, failNth: 3 });
    expect(event.expect).toEqual({ out: { fd: 5n } });
    expect(event.extra).toEqual({ note: 'n', ts: 1.5, tid: { a: [1] } });
    expect(parseOne('{"op":"OPEN","seq":null,"fd":-1}')).toMatchObject({ seq: null, fd: -1 });
  });

  it('reads expectations', () => {
    expect(parseOne('{"op":"OPEN","expect":{}}').expect).toEqual({});
    expect(parseOne('{"op":"OPEN","expect":{"errno":"*"}}').expect).toEqual({ errno: '*' });
    expect(parseOne('{"op":"OPEN","expect":{"errno":"EWOULDBLOCK"}}').expect).toEqual({ errno: 'EWOULDBLOCK' });
    const map = parseOne('{"op":"IOAS_MAP","expect":{"out":{"iova":"0x10000"}},"inferred":["iova"]}');
    expect(map.expect).toEqual({ out: { iova: 0x10000n } });
    expect(map.inferred).toEqual(['iova']);
  });
});

describe('numbers', () => {
  it('reads JSON numbers, decimal and hex strings and U64_MAX', () => {
    const fields = parseOne({
      op: 'IOAS_MAP',
      args: { ioas_id: '12', user_va: '0x7F0000000000', length: 'U64_MAX', iova: 4096 },
    }).args?.fields;
    expect(fields).toMatchObject({ ioas_id: 12n, user_va: 0x7f0000000000n, length: U64_MAX, iova: 4096n });
  });

  it('takes negative values only in s32 fields', () => {
    expect(parseOne({ op: 'IOAS_MAP_FILE', args: { fd: -1 } }).args?.fields.fd).toBe(-1n);
    expect(parseOne({ op: 'IOAS_MAP_FILE', args: { fd: '-2147483648' } }).args?.fields.fd).toBe(-2147483648n);
  });

  it('reads the size and the trailing bytes', () => {
    const short = parseOne({ op: 'IOAS_ALLOC', args: { size: 11 } }).args;
    expect(short?.size).toBe(11);
    expect(short?.fields.size).toBe(11n);
    const long = parseOne({ op: 'DESTROY', args: { size: 16, __trailing: '0x0100000000000000' } }).args;
    expect(long?.size).toBe(16);
    expect(long?.trailing).toEqual(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('keeps all-zero trailing bytes as no trailing bytes, however large the size', () => {
    expect(parseOne({ op: 'DESTROY', args: { size: 9, __trailing: '0x00' } }).args?.trailing).toEqual(new Uint8Array(0));
    expect(parseOne({ op: 'DESTROY', args: { size: 4294967295 } }).args).toMatchObject({
      size: 4294967295,
      trailing: new Uint8Array(0),
    });
  });
});

describe('names', () => {
  it('ORs flag names and takes flag integers as they are', () => {
    expect(parseOne({ op: 'IOAS_MAP', args: { flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'] } }).args?.fields.flags).toBe(7n);
    expect(parseOne({ op: 'IOAS_MAP', args: { flags: [] } }).args?.fields.flags).toBe(0n);
    expect(parseOne({ op: 'HWPT_ALLOC', args: { flags: ['NEST_PARENT', 'FAULT_ID_VALID', 'PASID'] } }).args?.fields.flags).toBe(13n);
    expect(parseOne({ op: 'HWPT_ALLOC', args: { flags: '0xfffffffe' } }).args?.fields.flags).toBe(0xfffffffen);
    expect(parseOne({ op: 'TEST_MOCK_DOMAIN_FLAGS', args: { dev_flags: ['PASID'] } }).args?.fields.dev_flags).toBe(4n);
    expect(parseOne({ op: 'MMAP', args: { prot: ['READ', 'WRITE'] } }).args?.fields.prot).toBe(3n);
  });

  it('reads enum names', () => {
    expect(parseOne({ op: 'OPTION', args: { option_id: 'HUGE_PAGES', op: 'GET' } }).args?.fields).toMatchObject({
      option_id: 1n,
      op: 1n,
    });
    expect(parseOne({ op: 'HWPT_ALLOC', args: { data_type: 'SELFTEST' } }).args?.fields.data_type).toBe(0xdeadn);
    expect(parseOne({ op: 'HWPT_INVALIDATE', args: { data_type: 'SELFTEST_INVALID' } }).args?.fields.data_type).toBe(
      0xdadbeefn,
    );
    expect(parseOne({ op: 'VFIO_SET_IOMMU', args: { arg: 'TYPE1v2_IOMMU' } }).args?.fields.arg).toBe(3n);
  });
});

describe('struct shapes', () => {
  it('nests the selftest members whose id collides with the command id', () => {
    const cache = parseOne({ op: 'TEST_DEV_CHECK_CACHE', args: { id: 3, check_dev_cache: { id: 1, cache: '0xbaddad' } } });
    expect(cache.args?.fields).toEqual({
      size: 72n,
      id: 3n,
      __reserved: 0n,
      check_dev_cache: { id: 1n, cache: 0xbaddadn },
    });
    const iotlb = parseOne({ op: 'TEST_MD_CHECK_IOTLB', args: { check_iotlb: { iotlb: 5 } } });
    expect(iotlb.args?.fields.check_iotlb).toEqual({ id: 0n, iotlb: 5n });
    expect(parseOne('{"op":"TEST_MD_CHECK_IOTLB"}').args?.fields.check_iotlb).toEqual({ id: 0n, iotlb: 0n });
  });

  it('flattens every other selftest member onto the header fields', () => {
    const rw = parseOne({ op: 'TEST_ACCESS_RW', args: { id: 5, iova: '0x1000', length: 1, uptr: '0x7ffe00000000', flags: ['WRITE', 'SLOW_PATH'] } });
    expect(rw.args).toEqual({
      size: 72,
      fields: { size: 72n, id: 5n, __reserved: 0n, iova: 0x1000n, length: 1n, uptr: 0x7ffe00000000n, flags: 5n },
      trailing: new Uint8Array(0),
    });
  });

  it('reads an inline input array and counts it', () => {
    const allow = parseOne({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x1000', last: '0x1fff' }, { last: 5 }] } });
    expect(allow.args?.fields).toMatchObject({
      num_iovas: 2n,
      allowed_iovas: [
        { start: 0x1000n, last: 0x1fffn },
        { start: 0n, last: 5n },
      ],
    });
    const explicit = parseOne({ op: 'IOAS_ALLOW_IOVAS', args: { num_iovas: 5, allowed_iovas: [] } });
    expect(explicit.args?.fields).toMatchObject({ num_iovas: 5n, allowed_iovas: [] });
    expect(parseOne({ op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: 0 } }).args?.fields.allowed_iovas).toBeNull();
    expect(parseOne({ op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: '0xdead0000' } }).args?.fields.allowed_iovas).toBe(
      0xdead0000n,
    );
  });

  it('reads an output buffer as its address, and what the kernel wrote there as records', () => {
    const ranges = parseOne({
      op: 'IOAS_IOVA_RANGES',
      args: { ioas_id: 1, num_iovas: 1, allowed_iovas: '0x7ffe00000000' },
      expect: { errno: 'EMSGSIZE', out: { num_iovas: 2, allowed_iovas: [{ start: '0x1000000', last: '0x7fffffff' }] } },
    });
    expect(ranges.args?.fields.allowed_iovas).toBe(0x7ffe00000000n);
    expect(ranges.expect).toEqual({
      errno: 'EMSGSIZE',
      out: { num_iovas: 2n, allowed_iovas: [{ start: 0x1000000n, last: 0x7fffffffn }] },
    });
    const info = parseOne({ op: 'GET_HW_INFO', args: { data_uptr: null }, expect: { out: { data_uptr: { test_reg: '0xdeadbeef' }, out_data_type: 'SELFTEST' } } });
    expect(info.args?.fields.data_uptr).toBeNull();
    expect(info.expect?.out).toEqual({ data_uptr: { test_reg: 0xdeadbeefn }, out_data_type: 0xfeedbeefn });
  });

  it('keeps inline driver data as given, numbers as bigints', () => {
    const alloc = parseOne({ op: 'HWPT_ALLOC', args: { data_type: 0xdead, data_len: 4, data: { iotlb: '0xbadbeef' } } });
    expect(alloc.args?.fields).toMatchObject({ data_uptr: null, data_len: 4n, data: { iotlb: 0xbadbeefn } });
    const bytes = parseOne({ op: 'HWPT_ALLOC', args: { data: '0xefbead0b' } });
    expect(bytes.args?.fields.data).toBe('0xefbead0b');
    const inv = parseOne({
      op: 'HWPT_INVALIDATE',
      args: { hwpt_id: 3, entry_len: 8, data: [{ flags: 0, iotlb_id: 1 }, { flags: 1, iotlb_id: 0 }] },
      expect: { errno: 'EINVAL', out: { entry_num: 1 } },
    });
    expect(inv.args?.fields).toMatchObject({
      entry_num: 2n,
      data: [
        { flags: 0n, iotlb_id: 1n },
        { flags: 1n, iotlb_id: 0n },
      ],
    });
    const viommu = parseOne({ op: 'VIOMMU_ALLOC', expect: { out: { out_viommu_id: 4, data: { out_data: 7 } } } });
    expect(viommu.expect?.out).toEqual({ out_viommu_id: 4n, data: { out_data: 7n } });
  });

  it('reads nested VFIO members and VFIO device ops with their device', () => {
    const info = parseOne({ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', expect: { out: { ddw: { levels: 2 } } } });
    expect(info.args?.fields.ddw).toEqual({ pgsizes: 0n, max_dynamic_windows_supported: 0n, levels: 0n });
    expect(info.expect?.out).toEqual({ ddw: { levels: 2n } });
    const bind = parseOne({ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'dev0', iommufd: 3 }, expect: { out: { out_devid: 1 } } });
    expect(bind.args?.fields).toEqual({
      argsz: 24n,
      flags: 0n,
      iommufd: 3n,
      out_devid: 0n,
      token_uuid_ptr: null,
      dev: 'dev0',
    });
    const getInfo = parseOne({ op: 'VFIO_IOMMU_GET_INFO', args: { argsz: 16 }, expect: { out: { argsz: 72, flags: 3 } }, inferred: ['argsz'] });
    expect(getInfo.expect?.out).toEqual({ argsz: 72n, flags: 3n });
  });

  it('reads the ioctl return value of plain ioctls, raw ioctls and DMABUF_GET', () => {
    expect(parseOne({ op: 'VFIO_GET_API_VERSION', expect: { out: { ret: 0 } } }).expect?.out).toEqual({ ret: 0n });
    const raw = parseOne({ op: 'IOCTL', args: { cmd: '0x3b7f', arg: null }, expect: { errno: 'ENOTTY' } });
    expect(raw.args?.fields).toEqual({ cmd: 0x3b7fn, arg: null });
    expect(parseOne({ op: 'TEST_DMABUF_GET', args: { length: 4096 }, expect: { out: { ret: 6 } } }).expect?.out).toEqual({ ret: 6n });
  });

  it('reads the environment ops', () => {
    expect(parseOne({ op: 'SET_RLIMIT', args: { rlimit_memlock: 'unlimited' } }).args?.fields).toEqual({ rlimit_memlock: null });
    expect(parseOne({ op: 'SET_RLIMIT', args: { rlimit_memlock: '0x10000' } }).args?.fields).toEqual({ rlimit_memlock: 0x10000n });
    expect(parseOne({ op: 'CHECK', args: { what: 'pinned_vm', pid: 1, value: '0x1000' } }).args?.fields).toEqual({
      what: 'pinned_vm',
      pid: 1n,
      value: 0x1000n,
    });
    const read = parseOne({ op: 'FD_READ', args: { fd: 5 }, expect: { out: { records: [{ flags: 2, addr: '0x7f0000000000', cookie: 1 }] } } });
    expect(read.expect?.out).toEqual({ records: [{ flags: 2n, addr: 0x7f0000000000n, cookie: 1n }] });
    expect(parseOne({ op: 'FORK', expect: { out: { pid: 2 } } }).expect?.out).toEqual({ pid: 2n });
  });
});

describe('streaming reader', () => {
  const text = lines(
    '# leading comment',
    HEADER,
    '{"seq":1,"op":"OPEN","expect":{"out":{"fd":3}}}',
    '',
    '   # indented comment',
    '{"seq":2,"op":"IOAS_ALLOC","args":{"size":12}}',
    '{"seq":3,"op":"CLOSE","args":{"fd":3}}',
  );

  it('gives the same header and events as the in-memory reader', async () => {
    const streamed = await readFile(tempFile(text));
    expect(streamed).toEqual(parseTraceText(text));
    expect(streamed.events.map((e) => e.line)).toEqual([3, 6, 7]);
  });

  it('reads a last line without a newline, and CRLF line ends', async () => {
    const crlf = text.replaceAll('\n', '\r\n').trimEnd();
    const streamed = await readFile(tempFile(crlf));
    expect(streamed.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(parseTraceText(crlf).events.map((e) => e.line)).toEqual([3, 6, 7]);
  });

  it('splits lines across chunk boundaries, keeping characters split between chunks whole', async () => {
    const content = 'é€😀\n\nabc\n😀😀😀😀\nlast';
    const path = tempFile(content);
    for (const chunkBytes of [1, 2, 3, 5, 7, 64]) {
      const got: string[] = [];
      for await (const batch of splitLines(path, { file: 'f', maxLineBytes: 100, chunkBytes })) got.push(...batch);
      expect(got).toEqual(['é€😀', '', 'abc', '😀😀😀😀', 'last']);
    }
  });

  it('accepts a line of exactly the limit and refuses one byte more, at any chunk size', async () => {
    const path = tempFile(`${'a'.repeat(10)}\n${'b'.repeat(11)}\n`);
    for (const chunkBytes of [1, 4, 10, 11, 64]) {
      const got: string[] = [];
      const reading = (async () => {
        for await (const batch of splitLines(path, { file: 'f', maxLineBytes: 10, chunkBytes })) got.push(...batch);
      })();
      await expect(reading).rejects.toThrow(new TraceError('f', 2, 'line is longer than 10 bytes'));
      expect(got).toEqual(['a'.repeat(10)]);
    }
  });

  it('refuses a 10 MB line', async () => {
    const huge = `{"op":"OPEN","note":"${'x'.repeat(10_000_000)}"}`;
    const path = tempFile(lines(HEADER, '{"op":"FORK"}', huge, '{"op":"FORK"}'));
    const trace = await openTrace(path, { file: 'big.jsonl' });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const batch of trace.batches) for (const event of batch) seen.push(event.op);
    })();
    await expect(reading).rejects.toThrow(new TraceError('big.jsonl', 3, 'line is longer than 1048576 bytes'));
    expect(seen).toEqual(['FORK']);
    // With the limit raised, the same line is an ordinary event.
    const raised = await readFile(path, { maxLineBytes: 16 << 20 });
    expect(raised.events.map((e) => e.op)).toEqual(['FORK', 'OPEN', 'FORK']);
  });

  it('hands out the events before a malformed line read in the same chunk, then refuses the line', async () => {
    const path = tempFile(lines(HEADER, '{"op":"FORK"}', '{"op":"OPEN"}', '{"op":"OPEN",}', '{"op":"FORK"}'));
    const trace = await openTrace(path, { file: 'bad.jsonl' });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const batch of trace.batches) for (const event of batch) seen.push(event.op);
    })();
    await expect(reading).rejects.toThrow(
      new TraceError('bad.jsonl', 4, 'invalid JSON: Expected double-quoted property name in JSON at position 13'),
    );
    expect(seen).toEqual(['FORK', 'OPEN']);
  });

  it('refuses an endless line after the limit, without waiting for its end', async () => {
    // /dev/zero is one line that never ends: only a reader that stops at the limit returns.
    await expect(openTrace('/dev/zero', { maxLineBytes: 1 << 16 })).rejects.toThrow(
      new TraceError('/dev/zero', 1, 'line is longer than 65536 bytes'),
    );
  });

  it('can stop early or be closed without reading the events', async () => {
    const path = tempFile(text);
    const first = await openTrace(path);
    for await (const batch of first.batches) {
      for (const event of batch) {
        expect(event.seq).toBe(1);
        break;
      }
      break;
    }
    const unread = await openTrace(path);
    await unread.close();
    expect(unread.header.version).toBe('1');
  });
});
