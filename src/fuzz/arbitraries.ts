/**
 * Random trace events, biased to where bugs live: 0, 1, a page ± 1, U64_MAX, ranges that
 * touch, overlap, contain or wrap, alignment off by one, ids of destroyed objects and of
 * another fd, unknown flags, non-zero reserved fields, struct sizes just under and over.
 * Events are trace-format JSON, so a run is a trace the replayer reads back.
 */
import fc from 'fast-check';
import { CURRENT_VERSION } from '../../events/version.ts';
import { EMULATED_DEVICES, emulatedArbitraries } from './emulated-arbitraries.ts';
import { HUGE_MAPPING, SPAPR_DEVICES, spaprArbitraries } from './spapr-arbitraries.ts';
import { VFIO_HOST, VFIO_OPEN, VFIO_WEIGHTS, vfioArbitraries } from './vfio-arbitraries.ts';

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const U64_MAX = (1n << 64n) - 1n;
const PAGE = 0x1000n;

/** The memory every fuzz run starts with (see `FUZZ_HEADER`). */
export const BUFFER = 0x7f0000000000n;
export const SHARED_BUFFER = 0x7f0000100000n;

export const FUZZ_HEADER = {
  trace: 'iommufd',
  version: CURRENT_VERSION,
  env: {
    page_size: 4096,
    hugepage_size: 2097152,
    memory: 'declared',
    mappings: [
      { addr: hex(BUFFER), length: '0x20000', shared: false },
      { addr: hex(SHARED_BUFFER), length: '0x20000', shared: true },
      HUGE_MAPPING,
    ],
    processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x40000', caps: ['CAP_SYS_RESOURCE'] }],
    ...VFIO_HOST,
    // A host with both drivers: type1 takes groups 1 and 2, SPAPR TCE the POWER PEs of groups 3 and 4.
    vfio: { container: 'native', drivers: ['type1', 'spapr_tce'] },
    devices: [...VFIO_HOST.devices, ...SPAPR_DEVICES, ...EMULATED_DEVICES],
  },
  description: 'fuzz run',
};

export type FuzzEvent = { readonly op: string; readonly [key: string]: unknown };

/** A few IOVAs inside the mock aperture, so that ranges often meet, touch or contain each other. */
const iova = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => 0x1000000n + BigInt(k) * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }).map((k) => 0x1000000n + BigInt(k) * 0x800n) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 32 }).map((k) => BigInt(k) * PAGE) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, PAGE - 1n, PAGE + 1n, 0xffffffn, 0x80000000n, U64_MAX, U64_MAX - PAGE + 1n, 3n << 62n) },
);
const length = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }).map((k) => BigInt(k) * PAGE) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((k) => BigInt(k) * PAGE + 1n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 0x800n, PAGE - 1n, 0x20000n, 0x21000n, U64_MAX, 1n << 63n, 1n << 62n, 3n << 62n) },
);
const userVa = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 31 }).map((k) => BUFFER + BigInt(k) * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 31 }).map((k) => SHARED_BUFFER + BigInt(k) * PAGE) },
  { weight: 1, arbitrary: fc.constantFrom(BUFFER + 0x800n, 0n, 0x1000n, U64_MAX - PAGE + 1n, BUFFER + 0x1f000n) },
);
/** Mostly the prologue's two IOAS; small ids also hit other objects, destroyed ones and ids only another fd has. */
const objectId = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1, 2) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 10 }) });
const mapFlags = fc.constantFrom<unknown>(
  ['FIXED_IOVA', 'READABLE', 'WRITEABLE'],
  ['FIXED_IOVA', 'READABLE', 'WRITEABLE'],
  ['READABLE', 'WRITEABLE'],
  ['FIXED_IOVA', 'READABLE'],
  ['FIXED_IOVA', 'READABLE'],
  ['READABLE'],
  ['FIXED_IOVA'],
  8,
);
const pid = fc.constantFrom(1, 1, 1, 2);
const size = (full: number) => fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(full - 1, full + 1) });

/** Another iommufd (a second OPEN), so that ids of one context are tried on another. */
const otherFd = fc.constantFrom<number | undefined>(undefined, undefined, undefined, undefined, undefined, 4, 5);

/** Optional envelope fields: another process, another fd, or a struct size off by one. */
function withEnvelope(event: fc.Arbitrary<FuzzEvent>, full?: number): fc.Arbitrary<FuzzEvent> {
  return fc.tuple(event, pid, full === undefined ? fc.constant(undefined) : size(full), otherFd).map(([e, p, s, fd]) => {
    const args = (e['args'] ?? {}) as Record<string, unknown>;
    const sized = s === undefined ? e : { ...e, args: { ...args, size: s } };
    const routed = full === undefined || fd === undefined ? sized : { ...sized, fd };
    return p === 1 ? routed : { ...routed, pid: p };
  });
}

const ioctl = (op: string, full: number, args: fc.Arbitrary<Record<string, unknown>>) =>
  withEnvelope(args.map((a) => ({ op, args: a })), full);

const VFIO = vfioArbitraries(BUFFER, SHARED_BUFFER, pid);
const SPAPR = spaprArbitraries(BUFFER, SHARED_BUFFER, pid);
/** The mediated device binds to the prologue's /dev/iommu, fd 3. */
const EMULATED = emulatedArbitraries(3);

/** The VFIO ops' arbitraries: type1's, SPAPR's, and for the ops both drivers take (MAP, UNMAP) either, type1's twice as often. */
function vfioCommands(): Record<string, fc.Arbitrary<FuzzEvent>> {
  const out: Record<string, fc.Arbitrary<FuzzEvent>> = { ...VFIO.commands };
  for (const [op, spapr] of Object.entries(SPAPR.commands)) {
    const type1 = out[op];
    out[op] = type1 === undefined ? spapr : fc.oneof({ weight: 2, arbitrary: type1 }, { weight: 1, arbitrary: spapr });
  }
  return out;
}

export const COMMANDS: Readonly<Record<string, fc.Arbitrary<FuzzEvent>>> = {
  // /dev/iommu, or VFIO's container and group nodes.
  OPEN: fc.oneof({ weight: 1, arbitrary: fc.constant({ op: 'OPEN' }) }, { weight: 1, arbitrary: VFIO_OPEN }),
  CLOSE: fc.integer({ min: 3, max: 7 }).map((fd) => ({ op: 'CLOSE', args: { fd } })),
  IOAS_ALLOC: ioctl('IOAS_ALLOC', 12, fc.record({ flags: fc.constantFrom(0, 0, 0, 1) })),
  DESTROY: ioctl('DESTROY', 8, fc.record({ id: objectId })),
  IOAS_MAP: fc.oneof(
    {
      weight: 6,
      arbitrary: ioctl(
        'IOAS_MAP',
        40,
        fc.record({ ioas_id: objectId, flags: mapFlags, user_va: userVa, length, iova, __reserved: fc.constantFrom(0, 0, 0, 0, 1) }).map((a) => ({
          ...a,
          user_va: hex(a.user_va),
          length: hex(a.length),
          iova: hex(a.iova),
        })),
      ),
    },
    {
      // Huge maps of memory nothing pins yet fill the IOVA space up to its top, where aligning overflows.
      weight: 1,
      arbitrary: ioctl(
        'IOAS_MAP',
        40,
        fc.record({ ioas_id: objectId, fixed: fc.boolean() }).map((a) => ({
          ioas_id: a.ioas_id,
          flags: a.fixed ? ['FIXED_IOVA', 'READABLE'] : ['READABLE'],
          user_va: '0',
          length: hex(a.fixed ? 3n << 62n : 1n << 62n),
          iova: hex(PAGE),
        })),
      ),
    },
  ),
  IOAS_UNMAP: ioctl(
    'IOAS_UNMAP',
    24,
    fc.oneof(
      fc.record({ ioas_id: objectId, iova, length }).map((a) => ({ ...a, iova: hex(a.iova), length: hex(a.length) })),
      objectId.map((id) => ({ ioas_id: id, iova: '0', length: 'U64_MAX' })),
    ),
  ),
  IOAS_COPY: ioctl(
    'IOAS_COPY',
    40,
    fc.record({ dst_ioas_id: objectId, src_ioas_id: objectId, flags: mapFlags, length, dst_iova: iova, src_iova: iova }).map((a) => ({
      ...a,
      length: hex(a.length),
      dst_iova: hex(a.dst_iova),
      src_iova: hex(a.src_iova),
    })),
  ),
  IOAS_ALLOW_IOVAS: ioctl(
    'IOAS_ALLOW_IOVAS',
    24,
    fc.record({ ioas_id: objectId, ranges: fc.array(fc.tuple(iova, length), { maxLength: 3 }) }).map((a) => ({
      ioas_id: a.ioas_id,
      allowed_iovas: a.ranges.map(([s, l]) => ({ start: hex(s), last: hex(s + l - 1n > U64_MAX ? U64_MAX : s + l - 1n < 0n ? 0n : s + l - 1n) })),
    })),
  ),
  IOAS_IOVA_RANGES: ioctl(
    'IOAS_IOVA_RANGES',
    32,
    fc.record({ ioas_id: objectId, num_iovas: fc.integer({ min: 0, max: 4 }) }).map((a) => ({ ...a, allowed_iovas: hex(BUFFER) })),
  ),
  OPTION: ioctl(
    'OPTION',
    24,
    fc.oneof(
      fc.record({ option_id: fc.constant(1), op: fc.constantFrom(0, 1, 2), object_id: objectId, val64: fc.constantFrom(0, 1, 2) }),
      fc.record({ option_id: fc.constant(0), op: fc.constantFrom(0, 1), object_id: fc.constant(0), val64: fc.constantFrom(0, 1, 2) }),
    ),
  ),
  IOAS_MAP_FILE: ioctl(
    'IOAS_MAP_FILE',
    40,
    fc.record({ ioas_id: objectId, flags: mapFlags, fd: fc.integer({ min: 3, max: 6 }), start: fc.integer({ min: 0, max: 8 }), length, iova }).map((a) => ({
      ...a,
      start: hex(BigInt(a.start) * PAGE),
      length: hex(a.length),
      iova: hex(a.iova),
    })),
  ),
  IOAS_CHANGE_PROCESS: ioctl('IOAS_CHANGE_PROCESS', 8, fc.record({ __reserved: fc.constantFrom(0, 0, 0, 1) })),
  TEST_ADD_RESERVED: ioctl(
    'TEST_ADD_RESERVED',
    72,
    fc.record({ id: objectId, start: iova, length }).map((a) => ({ ...a, start: hex(a.start), length: hex(a.length) })),
  ),
  TEST_MOCK_DOMAIN: ioctl('TEST_MOCK_DOMAIN', 72, fc.record({ id: objectId })),
  TEST_MOCK_DOMAIN_FLAGS: ioctl('TEST_MOCK_DOMAIN_FLAGS', 72, fc.record({ id: objectId, dev_flags: fc.constantFrom(0, 1, 4, 5, 8) })),
  TEST_MOCK_DOMAIN_REPLACE: ioctl('TEST_MOCK_DOMAIN_REPLACE', 72, fc.record({ id: objectId, pt_id: objectId })),
  TEST_CREATE_ACCESS: ioctl('TEST_CREATE_ACCESS', 72, fc.record({ id: objectId, flags: fc.constantFrom(0, 1, 1, 2) })),
  TEST_ACCESS_PAGES: ioctl(
    'TEST_ACCESS_PAGES',
    72,
    fc.record({ id: fc.integer({ min: 3, max: 7 }), iova, length, flags: fc.constantFrom(0, 1, 2) }).map((a) => ({
      ...a,
      iova: hex(a.iova),
      length: hex(a.length),
      uptr: '0',
    })),
  ),
  TEST_DESTROY_ACCESS_PAGES: ioctl(
    'TEST_DESTROY_ACCESS_PAGES',
    72,
    fc.record({ id: fc.integer({ min: 3, max: 7 }), access_pages_id: fc.integer({ min: 0, max: 3 }) }),
  ),
  TEST_ACCESS_RW: ioctl(
    'TEST_ACCESS_RW',
    72,
    fc.record({ id: fc.integer({ min: 3, max: 7 }), iova, length: fc.integer({ min: 0, max: 64 }), flags: fc.constantFrom(0, 1, 4, 8) }).map((a) => ({
      ...a,
      iova: hex(a.iova),
      length: hex(BigInt(a.length)),
      uptr: hex(BUFFER),
    })),
  ),
  TEST_ACCESS_REPLACE_IOAS: ioctl('TEST_ACCESS_REPLACE_IOAS', 72, fc.record({ id: fc.integer({ min: 3, max: 7 }), ioas_id: objectId })),
  TEST_MD_CHECK_REFS: ioctl(
    'TEST_MD_CHECK_REFS',
    72,
    fc.record({ page: fc.integer({ min: 0, max: 31 }), refs: fc.integer({ min: 0, max: 2 }) }).map((a) => ({
      uptr: hex(BUFFER + BigInt(a.page) * PAGE),
      length: hex(PAGE),
      refs: a.refs,
    })),
  ),
  MEMFD_CREATE: fc.constant({ op: 'MEMFD_CREATE' }),
  FTRUNCATE: fc.record({ fd: fc.integer({ min: 3, max: 6 }), pages: fc.integer({ min: 0, max: 16 }) }).map((a) => ({
    op: 'FTRUNCATE',
    args: { fd: a.fd, length: hex(BigInt(a.pages) * PAGE) },
  })),
  MUNMAP: fc.record({ page: fc.integer({ min: 0, max: 31 }), pages: fc.integer({ min: 1, max: 4 }) }).map((a) => ({
    op: 'MUNMAP',
    args: { addr: hex(BUFFER + BigInt(a.page) * PAGE), length: hex(BigInt(a.pages) * PAGE) },
  })),
  TOUCH: fc.record({ page: fc.integer({ min: 0, max: 31 }), write: fc.boolean() }).map((a) => ({
    op: 'TOUCH',
    args: { addr: hex(BUFFER + BigInt(a.page) * PAGE), length: hex(PAGE), write: a.write },
  })),
  FORK: fc.constant({ op: 'FORK' }),
  EXIT: fc.constant({ op: 'EXIT', args: { pid: 2 } }),
  SET_RLIMIT: fc.constantFrom('0x4000', '0x40000', 'unlimited').map((l) => ({ op: 'SET_RLIMIT', args: { rlimit_memlock: l } })),
  SET_CAPS: fc.constantFrom<string[]>([], ['CAP_SYS_RESOURCE'], ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE']).map((caps) => ({ op: 'SET_CAPS', args: { caps } })),
  ...vfioCommands(),
  ...EMULATED.commands,
};

/** Weights: the IOAS commands most, lifecycle and process events less; VFIO's about a fifth of all. */
const WEIGHTS: Readonly<Record<string, number>> = {
  IOAS_MAP: 8,
  IOAS_UNMAP: 5,
  IOAS_COPY: 4,
  TEST_MOCK_DOMAIN: 3,
  IOAS_ALLOC: 3,
  TEST_ACCESS_PAGES: 3,
  TEST_CREATE_ACCESS: 2,
  DESTROY: 2,
  CLOSE: 1,
  // One for /dev/iommu, one for VFIO's nodes.
  OPEN: 2,
  ...VFIO_WEIGHTS,
};

function weighted(ops: readonly string[] | undefined): fc.WeightedArbitrary<FuzzEvent>[] {
  return (ops ?? Object.keys(COMMANDS)).map((name) => {
    const arbitrary = COMMANDS[name];
    if (arbitrary === undefined) throw new Error(`[iommufd-model] the fuzzer has no generator for op ${name}`);
    return { weight: WEIGHTS[name] ?? 1, arbitrary };
  });
}

/** The event arbitrary over the chosen ops (all by default). */
export function eventArbitrary(ops?: readonly string[]): fc.Arbitrary<FuzzEvent> {
  return fc.oneof(...weighted(ops));
}

/** What one fuzz command applies: an event over the chosen ops, or a sequence of events over them. */
export function stepArbitrary(ops?: readonly string[]): fc.Arbitrary<readonly FuzzEvent[]> {
  const single = weighted(ops).map(({ weight, arbitrary }) => ({ weight, arbitrary: arbitrary.map((e): readonly FuzzEvent[] => [e]) }));
  const sequences = [...VFIO.sequences, ...SPAPR.sequences, ...EMULATED.sequences].filter((q) => ops === undefined || q.ops.every((op) => ops.includes(op)));
  return fc.oneof(...single, ...sequences.map(({ weight, arbitrary }) => ({ weight, arbitrary })));
}

/** Every run starts from an open iommufd with two IOAS. */
export const PROLOGUE: readonly FuzzEvent[] = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'IOAS_ALLOC' }];
