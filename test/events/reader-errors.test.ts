/**
 * Malformed input: every way a line can break the format, with the exact one-line report
 * (`file:line: reason`) both readers give.
 */
import { describe, it } from 'vitest';
import { HEADER, expectBadEvent, expectBadHeader, expectMalformed, lines } from './helpers.ts';

describe('lines', () => {
  it('rejects invalid JSON in an event', async () => {
    await expectMalformed(
      lines(HEADER, '# a comment', '', '{"op":"OPEN",}'),
      4,
      'invalid JSON: Expected double-quoted property name in JSON at position 13',
    );
  });

  it('rejects invalid JSON in the header', async () => {
    await expectMalformed(lines('{"trace":'), 1, 'invalid JSON: Unexpected end of JSON input');
  });

  it('rejects a trace without a header', async () => {
    await expectMalformed('', 1, 'no header: the trace has no line that is not blank or a comment');
    await expectMalformed(lines('# only', '  '), 3, 'no header: the trace has no line that is not blank or a comment');
  });
});

describe('header', () => {
  it.each([
    ['[]', 'header [] is not a JSON object'],
    ['{"version":1}', 'header trace: undefined is not "iommufd"'],
    ['{"trace":"vfio","version":1}', 'header trace: "vfio" is not "iommufd"'],
    ['{"trace":"iommufd","version":2}', 'header version: 2 is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":"1.2"}', 'header version: "1.2" is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":1.5}', 'header version: 1.5 is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":"1.10"}', 'header version: "1.10" is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":"x"}', 'header version: "x" is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":null}', 'header version: null is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","env":{}}', 'header version: undefined is not a version this reader knows (1, 1.1)'],
    ['{"trace":"iommufd","version":1,"env":[]}', 'header env: [] is not an object'],
    ['{"trace":"iommufd","version":1,"env":{"page_size":"4k"}}', 'header env.page_size: "4k" is not a number'],
    ['{"trace":"iommufd","version":1,"env":{"page_size":3000}}', 'header env.page_size: 3000 is not a page size Linux has (4, 8, 16, 32, 64 or 256 KiB)'],
    ['{"trace":"iommufd","version":1,"env":{"hugepage_size":0}}', 'header env.hugepage_size: 0 is not a power of two'],
    ['{"trace":"iommufd","version":1,"env":{"page_size":1}}', 'header env.page_size: 1 is not a page size Linux has (4, 8, 16, 32, 64 or 256 KiB)'],
    [
      '{"trace":"iommufd","version":1,"env":{"page_size":"0x20000"}}',
      'header env.page_size: "0x20000" is not a page size Linux has (4, 8, 16, 32, 64 or 256 KiB)',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"page_size":4294967296}}',
      'header env.page_size: 4294967296 is not a page size Linux has (4, 8, 16, 32, 64 or 256 KiB)',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"hugepage_size":"0x1000","page_size":65536}}',
      'header env.hugepage_size: "0x1000" is out of range for hugepage_size (page_size 65536 to 2^34)',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"hugepage_size":"0x800000000"}}',
      'header env.hugepage_size: "0x800000000" is out of range for hugepage_size (page_size 4096 to 2^34)',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x10000","length":"0x2000"},{"addr":"0x11000","length":"0x1000"}]}}',
      'header env.mappings[1]: overlaps mappings[0]',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x10000","length":1},{"addr":"0x8000","length":"0x8001"}]}}',
      'header env.mappings[1]: overlaps mappings[0]',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x400000","length":1,"hugepage":true},{"addr":"0x5ff000","length":1}]}}',
      'header env.mappings[1]: overlaps mappings[0]',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x10000"}]}}',
      'header env.mappings[0].length: a mapping needs a length that is not 0',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x10800","length":"0x1000"}]}}',
      'header env.mappings[0].addr: 0x10800 is not aligned to its page size 0x1000',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x1000","length":"0x1000","hugepage":true}]}}',
      'header env.mappings[0].addr: 0x1000 is not aligned to its page size 0x200000',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0xfffffffffffff000","length":"0x1001"}]}}',
      'header env.mappings[0]: the mapping runs past the end of the address space',
    ],
    ['{"trace":"iommufd","version":1,"env":{"memory":"some"}}', 'header env.memory: "some" is not "declared" or "any"'],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x1000","size":1}]}}',
      'header env.mappings[0].size: not an argument of MMAP',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"mappings":[{"addr":"0x1000","shared":"yes"}]}}',
      'header env.mappings[0].shared: "yes" is not true or false',
    ],
    ['{"trace":"iommufd","version":1,"env":{"processes":[]}}', 'header env.processes: no process: give at least one, or leave processes out'],
    [
      '{"trace":"iommufd","version":1,"env":{"processes":[{"pid":1,"name":"x"}]}}',
      'header env.processes[0].name: not a process property (pid, uid, rlimit_memlock, caps)',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"processes":[{"pid":1},{"pid":1}]}}',
      'header env.processes[1].pid: pid 1 is declared twice',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"processes":[{"pid":1,"caps":["CAP_SYS_ADMIN"]}]}}',
      'header env.processes[0].caps[0]: "CAP_SYS_ADMIN" is not one of CAP_IPC_LOCK, CAP_SYS_RESOURCE, CAP_SYS_RAWIO',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"processes":[{"pid":1,"rlimit_memlock":"none"}]}}',
      'header env.processes[0].rlimit_memlock: "none" is not a number',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"processes":[{"pid":-1}]}}',
      'header env.processes[0].pid: -1 is out of range for u32 (0 to 2^32 - 1)',
    ],
    ['{"trace":"iommufd","version":1,"env":{"devices":[{"kind":"mock"}]}}', 'header env.devices[0].name: undefined is not a device name'],
    ['{"trace":"iommufd","version":1,"env":{"devices":[{"name":"d"}]}}', 'header env.devices[0].kind: undefined is not a device kind'],
    [
      '{"trace":"iommufd","version":1,"env":{"devices":[{"name":"d","kind":"mock"},{"name":"d","kind":"mock"}]}}',
      'header env.devices[1].name: device "d" is declared twice',
    ],
    [
      '{"trace":"iommufd","version":1,"env":{"devices":[{"name":"d","kind":"mock","aperture":1.5}]}}',
      'header env.devices[0].aperture: 1.5 is not an integer',
    ],
    ['{"trace":"iommufd","version":1,"params":[1]}', 'header params: [1] is not an object'],
  ])('%s', async (header, reason) => {
    await expectBadHeader(header, reason);
  });
});

describe('event envelope', () => {
  it.each([
    ['[1]', '[1] is not an event object'],
    ['{"seq":1}', 'op: missing'],
    ['{"op":7}', 'op: 7 is not a string'],
    ['{"op":"IOMMU_IOAS_MAP"}', 'op: "IOMMU_IOAS_MAP" is not an op of trace format 1.1'],
    ['{"op":"OPEN","seq":-1}', 'OPEN seq: -1 is out of range for seq (0 to 2^53 - 1)'],
    ['{"op":"OPEN","seq":1.5}', 'OPEN seq: 1.5 is not an integer'],
    ['{"op":"OPEN","seq":"0x20000000000000"}', 'OPEN seq: "0x20000000000000" is out of range for seq (0 to 2^53 - 1)'],
    ['{"op":"OPEN","pid":"one"}', 'OPEN pid: "one" is not a number'],
    ['{"op":"OPEN","fd":2147483648}', 'OPEN fd: 2147483648 is out of range for s32 (-2^31 to 2^31 - 1)'],
    ['{"op":"OPEN","args":[]}', 'OPEN args: [] is not an object or null'],
    ['{"op":"IOAS_MAP","args":7}', 'IOAS_MAP args: 7 is not an object or null'],
    ['{"op":"OPEN","expect":[]}', 'OPEN expect: [] is not an object'],
    ['{"op":"OPEN","expect":{"ret":0}}', 'OPEN expect.ret: not part of an expectation (errno, out)'],
    ['{"op":"OPEN","expect":{"errno":"ENOTREAL"}}', 'OPEN expect.errno: "ENOTREAL" is not an errno name or "*"'],
    ['{"op":"OPEN","expect":{"errno":22}}', 'OPEN expect.errno: 22 is not an errno name or "*"'],
    ['{"op":"OPEN","expect":{"out":[]}}', 'OPEN expect.out: [] is not an object'],
    ['{"op":"OPEN","expect":{"out":{"addr":"0x1000"}}}', 'OPEN expect.out.addr: not an output of OPEN'],
    ['{"op":"IOAS_MAP","expect":{"out":{"user_va":"0x1000"}}}', 'IOAS_MAP expect.out.user_va: not an output of IOAS_MAP'],
    ['{"op":"OPEN","inferred":false}', 'OPEN inferred: false is not true or a list of output names'],
    ['{"op":"IOAS_MAP","inferred":["iova","length"]}', 'IOAS_MAP inferred[1]: "length" is not an output of IOAS_MAP'],
    ['{"op":"OPEN","unsure":1}', 'OPEN unsure: 1 is not true or false'],
    ['{"op":"OPEN","fail_nth":0}', 'OPEN fail_nth: 0 is out of range for fail_nth (1 to 2^32 - 1)'],
    ['{"op":"OPEN","fail_nth":"x"}', 'OPEN fail_nth: "x" is not a number'],
  ])('%s', async (event, reason) => {
    await expectBadEvent(event, reason);
  });
});

describe('struct arguments', () => {
  it.each([
    [{ op: 'IOAS_MAP', args: { length: '0xzz' } }, 'IOAS_MAP args.length: "0xzz" is not a number'],
    [{ op: 'IOAS_MAP', args: { lenght: 1 } }, 'IOAS_MAP args.lenght: not a field of struct iommu_ioas_map'],
    [{ op: 'IOAS_MAP', args: { ioas_id: true } }, 'IOAS_MAP args.ioas_id: true is not a number'],
    [{ op: 'IOAS_MAP', args: { ioas_id: 4294967296 } }, 'IOAS_MAP args.ioas_id: 4294967296 is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'IOAS_MAP', args: { ioas_id: 'U64_MAX' } }, 'IOAS_MAP args.ioas_id: "U64_MAX" is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'IOAS_MAP', args: { ioas_id: -1 } }, 'IOAS_MAP args.ioas_id: -1 is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'IOAS_MAP', args: { length: 0.5 } }, 'IOAS_MAP args.length: 0.5 is not an integer'],
    [{ op: 'IOAS_MAP', args: { length: 2 ** 60 } }, 'IOAS_MAP args.length: 1152921504606847000 is beyond 2^53 - 1: write it as a string'],
    [{ op: 'IOAS_MAP', args: { length: '0x10000000000000000' } }, 'IOAS_MAP args.length: "0x10000000000000000" is out of range for u64 (0 to 2^64 - 1)'],
    [{ op: 'IOAS_MAP', args: { length: '-1' } }, 'IOAS_MAP args.length: "-1" is not a number'],
    [{ op: 'IOAS_MAP', args: { size: 'big' } }, 'IOAS_MAP args.size: "big" is not a number'],
    [{ op: 'OPTION', args: { op: 65536 } }, 'OPTION args.op: 65536 is out of range for u16 (0 to 2^16 - 1)'],
    [{ op: 'IOAS_MAP_FILE', args: { fd: -2147483649 } }, 'IOAS_MAP_FILE args.fd: -2147483649 is out of range for s32 (-2^31 to 2^31 - 1)'],
    [{ op: 'GET_HW_INFO', args: { __reserved: '0x1000000' } }, 'GET_HW_INFO args.__reserved: "0x1000000" is out of range for u8[3] (0 to 2^24 - 1)'],
    [{ op: 'IOAS_MAP', args: { flags: ['FIXED_IOVA', 'EXEC'] } }, 'IOAS_MAP args.flags[1]: "EXEC" is not a flag of IOMMU_IOAS_MAP_'],
    [{ op: 'IOAS_MAP', args: { flags: 'READABLE' } }, 'IOAS_MAP args.flags: "READABLE" is not a number'],
    [{ op: 'OPTION', args: { option_id: 'HUGE' } }, 'OPTION args.option_id: "HUGE" is neither a number nor a name of IOMMU_OPTION_'],
    [{ op: 'TEST_DEV_CHECK_CACHE', args: { check_dev_cache: 1 } }, 'TEST_DEV_CHECK_CACHE args.check_dev_cache: 1 is not a record of id, cache'],
    [
      { op: 'TEST_DEV_CHECK_CACHE', args: { check_dev_cache: { id: 0, value: 1 } } },
      'TEST_DEV_CHECK_CACHE args.check_dev_cache.value: not a member of check_dev_cache',
    ],
    [
      { op: 'TEST_DEV_CHECK_CACHE', args: { cache: 1 } },
      'TEST_DEV_CHECK_CACHE args.cache: not a field of struct iommu_test_cmd.check_dev_cache',
    ],
    [{ op: 'TEST_ACCESS_RW', args: { op: 8 } }, 'TEST_ACCESS_RW args.op: not a field of struct iommu_test_cmd.access_rw'],
    [
      { op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: [{ start: 0, last: 1 }, { start: 2, end: 3 }] } },
      'IOAS_ALLOW_IOVAS args.allowed_iovas[1].end: not a field of struct iommu_iova_range',
    ],
    [
      { op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: [{ start: 'x' }] } },
      'IOAS_ALLOW_IOVAS args.allowed_iovas[0].start: "x" is not a number',
    ],
    [
      { op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: [5] } },
      'IOAS_ALLOW_IOVAS args.allowed_iovas[0]: 5 is not a record of struct iommu_iova_range',
    ],
    [{ op: 'IOAS_IOVA_RANGES', args: { allowed_iovas: [] } }, 'IOAS_IOVA_RANGES args.allowed_iovas: [] is not a number'],
    [{ op: 'DESTROY', args: { size: 9, __trailing: 'ff' } }, 'DESTROY args.__trailing: "ff" is not a hex byte string (0x and two digits a byte)'],
    [{ op: 'DESTROY', args: { size: 9, __trailing: '0xfff' } }, 'DESTROY args.__trailing: "0xfff" is not a hex byte string (0x and two digits a byte)'],
    [
      { op: 'DESTROY', args: { size: 10, __trailing: '0xff' } },
      'DESTROY args.__trailing: 1 byte(s), but size 10 leaves 2 after the 8-byte struct',
    ],
    [{ op: 'DESTROY', args: { __trailing: '0x00' } }, 'DESTROY args.__trailing: 1 byte(s), but size 8 leaves 0 after the 8-byte struct'],
    [{ op: 'HWPT_ALLOC', args: { data: 5 } }, 'HWPT_ALLOC args.data: 5 is not an object, an array or a hex byte string'],
    [{ op: 'HWPT_ALLOC', args: { data: '0x1' } }, 'HWPT_ALLOC args.data: "0x1" is not a hex byte string (0x and two digits a byte)'],
    [{ op: 'HWPT_ALLOC', args: { data: { iotlb: 1.5 } } }, 'HWPT_ALLOC args.data.iotlb: 1.5 is not an integer'],
    [
      { op: 'HWPT_ALLOC', args: { data_uptr: '0x1000', data: { iotlb: 1 } } },
      'HWPT_ALLOC args.data: inline data and data_uptr both given: give one',
    ],
    [{ op: 'IOAS_MAP', args: { data: {} } }, 'IOAS_MAP args.data: not a field of struct iommu_ioas_map'],
    [{ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 3 } }, 'VFIO_DEVICE_BIND_IOMMUFD args.dev: 3 is not a string'],
    [
      { op: 'IOAS_IOVA_RANGES', expect: { out: { allowed_iovas: '0x1000' } } },
      'IOAS_IOVA_RANGES expect.out.allowed_iovas: "0x1000" is not an array of struct iommu_iova_range',
    ],
    [
      { op: 'IOAS_IOVA_RANGES', expect: { out: { allowed_iovas: [{ first: 0 }] } } },
      'IOAS_IOVA_RANGES expect.out.allowed_iovas[0].first: not a field of struct iommu_iova_range',
    ],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', expect: { out: { ddw: { levels: 'x' } } } }, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO expect.out.ddw.levels: "x" is not a number'],
  ])('%j', async (event, reason) => {
    await expectBadEvent(event, reason);
  });
});

describe('plain arguments', () => {
  it.each([
    [{ op: 'OPEN', args: { path: 1 } }, 'OPEN args.path: 1 is not a string'],
    [{ op: 'OPEN', args: { flags: 2 } }, 'OPEN args.flags: not an argument of OPEN'],
    [{ op: 'MMAP', args: { shared: 'true' } }, 'MMAP args.shared: "true" is not true or false'],
    [{ op: 'MMAP', args: { prot: ['READ', 'RW'] } }, 'MMAP args.prot[1]: "RW" is not a flag of PROT_'],
    [{ op: 'SET_CAPS', args: { caps: 'CAP_IPC_LOCK' } }, 'SET_CAPS args.caps: "CAP_IPC_LOCK" is not an array of strings'],
    [{ op: 'SET_CAPS', args: { caps: ['CAP_IPC_LOCK', 1] } }, 'SET_CAPS args.caps[1]: 1 is not a string'],
    [{ op: 'SET_CAPS', args: { caps: ['CAP_NET_ADMIN'] } }, 'SET_CAPS args.caps[0]: "CAP_NET_ADMIN" is not one of CAP_IPC_LOCK, CAP_SYS_RESOURCE, CAP_SYS_RAWIO'],
    [{ op: 'SET_RLIMIT', args: { rlimit_memlock: 'infinite' } }, 'SET_RLIMIT args.rlimit_memlock: "infinite" is not a number'],
    [{ op: 'CHECK', args: { what: 'vm_pin' } }, 'CHECK args.what: "vm_pin" is not one of locked_vm, pinned_vm, user_locked_vm'],
    [{ op: 'FD_WRITE', args: { records: {} } }, 'FD_WRITE args.records: {} is not an array of records'],
    [{ op: 'FD_WRITE', args: { records: [{ cookie: 1 }, 2] } }, 'FD_WRITE args.records[1]: 2 is not a record'],
    [{ op: 'FD_READ', expect: { out: { records: [{ addr: 0.5 }] } } }, 'FD_READ expect.out.records[0].addr: 0.5 is not an integer'],
    [{ op: 'VFIO_CHECK_EXTENSION', args: { arg: 'TYPE2_IOMMU' } }, 'VFIO_CHECK_EXTENSION args.arg: "TYPE2_IOMMU" is neither a number nor a name of VFIO_'],
    [{ op: 'VFIO_GET_API_VERSION', args: { arg: null } }, 'VFIO_GET_API_VERSION args.arg: null is not a number'],
    [{ op: 'FORK', args: { pid: 2 } }, 'FORK args.pid: not an argument of FORK'],
  ])('%j', async (event, reason) => {
    await expectBadEvent(event, reason);
  });
});

describe('reports', () => {
  it('stay on one line whatever the offending key holds', async () => {
    await expectBadEvent('{"op":"OPEN","args":{"pa\\nth":1}}', 'OPEN args.pa\\u000ath: not an argument of OPEN');
  });
});
