/**
 * Writing parsed events and headers back as trace lines: the format's conventions, and the
 * round trip parse(write(parse(x))) = parse(x) over generated lines.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEvent, formatHeader, parseTraceText } from '../../events/index.ts';
import type { TraceEvent } from '../../events/index.ts';
import { rawEvent, rawHeader } from './arbitraries.ts';
import { HEADER, lines, parseHeaderOnly, parseOne } from './helpers.ts';

/** The event written back from the line `raw`. */
const rewrite = (raw: object): unknown => JSON.parse(formatEvent(parseOne(raw)));

describe('formatEvent', () => {
  it('writes addresses and lengths in hex, ids plainly, flags as integers, and leaves out defaults', () => {
    expect(
      rewrite({
        seq: 7,
        op: 'IOAS_MAP',
        args: { ioas_id: '2', flags: ['FIXED_IOVA', 'READABLE'], user_va: 139637976727552, length: '8192', iova: 0 },
        expect: { errno: 'EEXIST' },
      }),
    ).toEqual({
      seq: 7,
      op: 'IOAS_MAP',
      args: { flags: 5, ioas_id: 2, user_va: '0x7f0000000000', length: '0x2000' },
      expect: { errno: 'EEXIST' },
    });
    expect(rewrite({ op: 'IOAS_UNMAP', args: { ioas_id: 1, length: 'U64_MAX' }, expect: { out: { length: 0 } } })).toEqual({
      op: 'IOAS_UNMAP',
      args: { ioas_id: 1, length: '0xffffffffffffffff' },
      expect: { out: { length: 0 } },
    });
  });

  it('writes size and __trailing only when they are not the defaults', () => {
    expect(rewrite({ op: 'DESTROY', args: { size: 8, id: 3 } })).toEqual({ op: 'DESTROY', args: { id: 3 } });
    expect(rewrite({ op: 'DESTROY', args: { size: 9, __trailing: '0x00' } })).toEqual({ op: 'DESTROY', args: { size: 9 } });
    expect(rewrite({ op: 'DESTROY', args: { size: 9, __trailing: '0xFF' } })).toEqual({
      op: 'DESTROY',
      args: { size: 9, __trailing: '0xff' },
    });
    expect(rewrite({ op: 'VFIO_IOMMU_GET_INFO', args: { argsz: 16 } })).toEqual({ op: 'VFIO_IOMMU_GET_INFO', args: { argsz: 16 } });
    expect(rewrite({ op: 'DESTROY', args: {} })).toEqual({ op: 'DESTROY' });
  });

  it('keeps "args": null, the envelope and unknown keys', () => {
    expect(
      rewrite({ seq: 3, pid: 2, fd: 4, op: 'DESTROY', args: null, expect: {}, unsure: true, fail_nth: 2, note: 'x', ts: [1] }),
    ).toEqual({ seq: 3, pid: 2, fd: 4, op: 'DESTROY', args: null, expect: {}, unsure: true, fail_nth: 2, note: 'x', ts: [1] });
    expect(rewrite({ op: 'FORK', inferred: true, expect: { out: { pid: 2 } } })).toEqual({
      op: 'FORK',
      expect: { out: { pid: 2 } },
      inferred: true,
    });
  });

  it('writes inline arrays, counting them only when the count differs from their length', () => {
    expect(rewrite({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x1000', last: 8191 }] } })).toEqual({
      op: 'IOAS_ALLOW_IOVAS',
      args: { ioas_id: 1, allowed_iovas: [{ start: '0x1000', last: '0x1fff' }] },
    });
    expect(rewrite({ op: 'IOAS_ALLOW_IOVAS', args: { num_iovas: 2, allowed_iovas: [] } })).toEqual({
      op: 'IOAS_ALLOW_IOVAS',
      args: { num_iovas: 2, allowed_iovas: [] },
    });
  });

  it('writes nested members, inline data and the VFIO device', () => {
    expect(rewrite({ op: 'TEST_DEV_CHECK_CACHE', args: { id: 3, check_dev_cache: { id: 0, cache: '0xbaddad' } } })).toEqual({
      op: 'TEST_DEV_CHECK_CACHE',
      args: { id: 3, check_dev_cache: { cache: 12246445 } },
    });
    expect(rewrite({ op: 'HWPT_ALLOC', args: { data_type: 'SELFTEST', data_len: 4, data: { iotlb: '0xbadbeef' } } })).toEqual({
      op: 'HWPT_ALLOC',
      args: { data_type: 0xdead, data_len: 4, data: { iotlb: 195935983 } },
    });
    expect(rewrite({ op: 'HWPT_INVALIDATE', args: { data: [{ flags: 1, iotlb_id: '0x1234567890' }] } })).toEqual({
      op: 'HWPT_INVALIDATE',
      args: { data: [{ flags: 1, iotlb_id: '0x1234567890' }] },
    });
    expect(rewrite({ op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'dev0', pt_id: 2 }, expect: { out: { pt_id: 3 } } })).toEqual({
      op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
      args: { pt_id: 2, dev: 'dev0' },
      expect: { out: { pt_id: 3 } },
    });
  });

  it('writes plain arguments by their type', () => {
    expect(
      rewrite({ op: 'MMAP', args: { length: 65536, prot: ['READ', 'WRITE'], shared: true, fd: -1, file: '/proc/self/exe' }, expect: { out: { addr: '0x7f0000200000' } } }),
    ).toEqual({
      op: 'MMAP',
      args: { length: '0x10000', shared: true, fd: -1, file: '/proc/self/exe', prot: 3 },
      expect: { out: { addr: '0x7f0000200000' } },
    });
    expect(rewrite({ op: 'SET_RLIMIT', args: { rlimit_memlock: 'unlimited' } })).toEqual({ op: 'SET_RLIMIT', args: { rlimit_memlock: 'unlimited' } });
    expect(rewrite({ op: 'IOCTL', args: { cmd: '0x3b7f', arg: null } })).toEqual({ op: 'IOCTL', args: { cmd: 15231, arg: null } });
    expect(rewrite({ op: 'FD_WRITE', args: { fd: 5, records: [{ cookie: 1, code: 0 }] } })).toEqual({
      op: 'FD_WRITE',
      args: { fd: 5, records: [{ cookie: 1, code: 0 }] },
    });
  });
});

describe('formatHeader', () => {
  it('writes the current version, the defaults explicitly, and unknown keys', () => {
    expect(JSON.parse(formatHeader(parseHeaderOnly(HEADER)))).toEqual({
      trace: 'iommufd',
      version: '1.1',
      env: {
        page_size: 4096,
        hugepage_size: 2097152,
        memory: 'any',
        processes: [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: [] }],
      },
    });
    const full = {
      trace: 'iommufd',
      version: 1,
      env: {
        page_size: 4096,
        hugepage_size: 2097152,
        memory: 'declared',
        mappings: [{ addr: '0x7ffe00000000', length: '0x20000', shared: false }],
        processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x10000', caps: ['CAP_IPC_LOCK'] }],
        devices: [{ name: 'dev0', kind: 'mock', pgsize_bitmap: '0xfffff000' }],
        swap: 'off',
        kernel: '6.17',
      },
      kernel: 'free text',
      params: { 'vfio_iommu_type1.dma_entry_limit': 65535 },
      source: { test: 'x' },
    };
    // Version 1's top-level params are written where format 1.1 places them, in env.
    const { params, ...rest } = full;
    expect(JSON.parse(formatHeader(parseHeaderOnly(full)))).toEqual({
      ...rest,
      version: '1.1',
      env: { ...full.env, devices: [{ name: 'dev0', kind: 'mock', pgsize_bitmap: 4294963200 }], params },
    });
  });

  it('writes env.vfio as read, and drivers only when given', () => {
    const header = (vfio: object) => ({ trace: 'iommufd', version: '1.1', env: { vfio } });
    const written = (vfio: object) => JSON.parse(formatHeader(parseHeaderOnly(header(vfio)))).env.vfio;
    expect(written({ container: 'iommufd' })).toEqual({ container: 'iommufd' });
    expect(written({ drivers: ['noiommu', 'type1'] })).toEqual({ container: 'native', drivers: ['noiommu', 'type1'] });
  });
});

const withoutLine = ({ line: _, ...rest }: TraceEvent) => rest;

describe('round trip', () => {
  it('parse(write(parse(x))) = parse(x) for generated events', () => {
    fc.assert(
      fc.property(rawEvent, (raw) => {
        const first = parseOne(raw);
        const again = parseTraceText(lines(HEADER, formatEvent(first))).events[0] as TraceEvent;
        expect(withoutLine(again)).toEqual(withoutLine(first));
      }),
      { numRuns: 3000 },
    );
  });

  it('parse(write(parse(x))) = parse(x) for generated headers', () => {
    fc.assert(
      fc.property(rawHeader, (raw) => {
        const first = parseHeaderOnly(raw);
        expect(parseHeaderOnly(formatHeader(first))).toEqual({ ...first, version: '1.1' });
      }),
      { numRuns: 500 },
    );
  });
});
