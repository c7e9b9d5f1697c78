/**
 * Random legacy VFIO events: opens of /dev/vfio/vfio and of the fuzz host's groups, the group
 * ioctls, VFIO_SET_IOMMU, and type1 maps, unmaps (ALL, VADDR, the dirty bitmap) and dirty
 * tracking. Biased to where type1 goes wrong: a few IOVAs and sizes, so that unmaps start and end
 * inside mappings and VADDR updates name a mapping exactly; two groups behind different IOMMUs,
 * one reserving IOVA the maps use; ops without `fd`, which go to the lowest group or container
 * fd, so that sequences of them build on each other.
 */
import fc from 'fast-check';
import type { FuzzEvent } from './arbitraries.ts';

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const PAGE = 0x1000n;
const U64_MAX = (1n << 64n) - 1n;

const VTD = {
  kind: 'intel-vtd',
  aperture: { start: '0', last: '0xffffffffffff' },
  pgsize_bitmap: '0x40201000',
  reserved: [{ start: '0xfee00000', last: '0xfeefffff', type: 'MSI' }],
};

/** Where the maps go; group 2's IOMMU reserves two of its pages. */
const DMA_BASE = 0x1000000n;

/**
 * The fuzz host's VFIO: native type1 allowing few mappings, group 1 (two functions behind VT-d),
 * group 2 (one device behind another IOMMU).
 */
export const VFIO_HOST = {
  vfio: { container: 'native', drivers: ['type1'] },
  params: { 'vfio_iommu_type1.dma_entry_limit': 4 },
  devices: [
    { name: '0000:01:00.0', group: 1, ...VTD },
    { name: '0000:01:00.1', group: 1, ...VTD },
    {
      name: '0000:02:00.0',
      group: 2,
      kind: 'amd-vi',
      aperture: { start: '0', last: '0xffffffffff' },
      pgsize_bitmap: '0xfffff000',
      reserved: [{ start: hex(DMA_BASE + 6n * PAGE), last: hex(DMA_BASE + 8n * PAGE - 1n), type: 'RESERVED' }],
    },
  ],
};

export const VFIO_OPEN: fc.Arbitrary<FuzzEvent> = fc
  .constantFrom('/dev/vfio/vfio', '/dev/vfio/vfio', '/dev/vfio/1', '/dev/vfio/1', '/dev/vfio/2')
  .map((path) => ({ op: 'OPEN', args: { path } }));

/** `pages` pages from one of the first IOVAs, or a value at an edge. */
const dmaRange = (pages: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.record({ k: fc.integer({ min: 0, max: 5 }), n: fc.integer({ min: 1, max: pages }) }).map((r) => ({ iova: DMA_BASE + BigInt(r.k) * PAGE, size: BigInt(r.n) * PAGE })) },
    {
      weight: 1,
      arbitrary: fc.record({
        iova: fc.constantFrom(0n, DMA_BASE, DMA_BASE + 0x800n, 0xfee00000n, 0x10000000000n, U64_MAX - PAGE + 1n),
        size: fc.constantFrom(0n, PAGE, 0x800n, 0x40000n, 1n << 63n, U64_MAX),
      }),
    },
  ).map((r) => ({ iova: hex(r.iova), size: hex(r.size) }));

/** Little-endian u64s as the `__trailing` hex of a trace. */
const le64 = (values: readonly bigint[]): string =>
  `0x${values.map((v) => Buffer.from(v.toString(16).padStart(16, '0'), 'hex').reverse().toString('hex')).join('')}`;

/** Events generated as one fuzz command, where single events would seldom line up; generated when all their ops are. */
export interface Sequence {
  readonly ops: readonly string[];
  readonly weight: number;
  readonly arbitrary: fc.Arbitrary<readonly FuzzEvent[]>;
}

/**
 * The arbitraries of the VFIO ops and sequences, over the fuzz memory at `buffer` and `shared`,
 * issued by `pid`.
 */
export function vfioArbitraries(
  buffer: bigint,
  shared: bigint,
  pid: fc.Arbitrary<number>,
): { readonly commands: Readonly<Record<string, fc.Arbitrary<FuzzEvent>>>; readonly sequences: readonly Sequence[] } {
  const vaddr = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 15 }).map((k) => buffer + BigInt(k) * PAGE) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }).map((k) => shared + BigInt(k) * PAGE) },
    { weight: 1, arbitrary: fc.constantFrom(0n, buffer + 0x800n) },
  );
  /** A dirty bitmap of 64 pages in the last page of the private buffer. */
  const bitmap = { pgsize: hex(PAGE), size: 8, data: hex(buffer + 0x1f000n) };
  // Maps of one or two pages, so that a VADDR update often names one exactly; unmaps of up to three.
  const mapped = dmaRange(2);
  const range = dmaRange(3);
  /** Mostly the lowest fd of the kind, sometimes another one. */
  const fd = fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom(4, 5) });
  const issue = (op: string, args?: fc.Arbitrary<Record<string, unknown>>) =>
    fc.tuple(args ?? fc.constant(undefined), pid, fd).map(([a, p, f]): FuzzEvent => ({
      op,
      ...(f === undefined ? {} : { fd: f }),
      ...(p === 1 ? {} : { pid: p }),
      ...(a === undefined ? {} : { args: a }),
    }));
  const argsz = (full: number) => fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(full - 1) });
  const withArgsz = (args: Record<string, unknown>, size: number | undefined) => (size === undefined ? args : { ...args, argsz: size });
  const map = (flags: readonly string[]) =>
    fc.record({ vaddr, range: mapped }).map((a) => ({ flags, vaddr: hex(a.vaddr), ...a.range }));
  const commands = {
    VFIO_GROUP_SET_CONTAINER: fc.oneof(
      // The format 1 form: on the container fd, naming the group.
      { weight: 3, arbitrary: fc.tuple(fc.constantFrom(1, 1, 2), pid).map(([group, p]): FuzzEvent => ({ op: 'VFIO_GROUP_SET_CONTAINER', ...(p === 1 ? {} : { pid: p }), args: { group } })) },
      {
        weight: 1,
        arbitrary: fc
          .record({ fd: fc.integer({ min: 3, max: 7 }), container_fd: fc.integer({ min: 3, max: 7 }) })
          .map((a): FuzzEvent => ({ op: 'VFIO_GROUP_SET_CONTAINER', fd: a.fd, args: { container_fd: a.container_fd } })),
      },
    ),
    VFIO_GROUP_UNSET_CONTAINER: issue('VFIO_GROUP_UNSET_CONTAINER'),
    VFIO_GROUP_GET_STATUS: issue('VFIO_GROUP_GET_STATUS', argsz(8).map((s) => withArgsz({}, s))),
    VFIO_GROUP_GET_DEVICE_FD: issue('VFIO_GROUP_GET_DEVICE_FD', fc.constantFrom('0000:01:00.0', '0000:01:00.1', '0000:02:00.0', '0000:09:00.0').map((dev) => ({ dev }))),
    VFIO_SET_IOMMU: issue('VFIO_SET_IOMMU', fc.constantFrom('TYPE1_IOMMU', 'TYPE1_IOMMU', 'TYPE1v2_IOMMU', 'TYPE1v2_IOMMU', 'SPAPR_TCE_IOMMU').map((arg) => ({ arg }))),
    VFIO_IOMMU_MAP_DMA: fc.oneof(
      {
        weight: 6,
        arbitrary: issue(
          'VFIO_IOMMU_MAP_DMA',
          fc
            .record({ flags: fc.constantFrom<unknown>(['READ', 'WRITE'], ['READ', 'WRITE'], ['READ'], ['WRITE'], ['VADDR', 'READ'], [], 8), vaddr, range: mapped, argsz: argsz(32) })
            .map((a) => withArgsz({ flags: a.flags, vaddr: hex(a.vaddr), ...a.range }, a.argsz)),
        ),
      },
      // The VADDR update, often from a second process as after a CPR exec.
      {
        weight: 2,
        arbitrary: fc.tuple(map(['VADDR']), fc.boolean()).map(([args, other]): FuzzEvent => ({ op: 'VFIO_IOMMU_MAP_DMA', ...(other ? { pid: 2 } : {}), args })),
      },
    ),
    VFIO_IOMMU_UNMAP_DMA: issue(
      'VFIO_IOMMU_UNMAP_DMA',
      fc.oneof(
        { weight: 5, arbitrary: fc.tuple(range, argsz(24)).map(([r, s]) => withArgsz(r, s)) },
        { weight: 2, arbitrary: range.map((r) => ({ flags: ['VADDR'], ...r })) },
        { weight: 1, arbitrary: fc.constantFrom(['ALL'], ['ALL', 'VADDR'], ['ALL', 'GET_DIRTY_BITMAP']).map((flags) => ({ flags, iova: '0', size: '0' })) },
        {
          weight: 1,
          arbitrary: range.map((r) => ({ argsz: 48, flags: ['GET_DIRTY_BITMAP'], ...r, __trailing: le64([PAGE, 8n, buffer + 0x1f000n]) })),
        },
      ),
    ),
    VFIO_IOMMU_DIRTY_PAGES: issue(
      'VFIO_IOMMU_DIRTY_PAGES',
      fc.oneof(
        fc.constantFrom(['START'], ['STOP'], ['START', 'STOP']).map((flags) => ({ flags })),
        range.map((r) => ({ flags: ['GET_BITMAP'], ...r, bitmap })),
      ),
    ),
  };
  return {
    commands,
    sequences: [
      {
        // A native type1 container as QEMU's legacy backend sets one up and maps guest RAM into
        // it. The group's format 1 SET_CONTAINER and SET_IOMMU go to the lowest container fd,
        // which may be an older container.
        ops: ['OPEN', 'VFIO_GROUP_SET_CONTAINER', 'VFIO_SET_IOMMU', 'VFIO_IOMMU_MAP_DMA'],
        weight: 2,
        arbitrary: fc
          .record({
            group: fc.constantFrom(1, 1, 2),
            type: fc.constantFrom('TYPE1_IOMMU', 'TYPE1v2_IOMMU', 'TYPE1v2_IOMMU'),
            maps: fc.array(map(['READ', 'WRITE']), { minLength: 1, maxLength: 2 }),
          })
          .map(({ group, type, maps }) => [
            { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
            { op: 'OPEN', args: { path: `/dev/vfio/${group}` } },
            { op: 'VFIO_GROUP_SET_CONTAINER', args: { group } },
            { op: 'VFIO_SET_IOMMU', args: { arg: type } },
            ...maps.map((args) => ({ op: 'VFIO_IOMMU_MAP_DMA', args })),
          ]),
      },
      {
        // QEMU's CPR: every vaddr invalidated, then the new QEMU (here a fork) updates one.
        ops: ['VFIO_IOMMU_UNMAP_DMA', 'FORK', 'VFIO_IOMMU_MAP_DMA'],
        weight: 1,
        arbitrary: map(['VADDR']).map((args) => [
          { op: 'VFIO_IOMMU_UNMAP_DMA', args: { flags: ['VADDR', 'ALL'], iova: '0', size: '0' } },
          { op: 'FORK' },
          { op: 'VFIO_IOMMU_MAP_DMA', pid: 2, args },
        ]),
      },
    ],
  };
}

/** Their weights: the maps and unmaps most. */
export const VFIO_WEIGHTS: Readonly<Record<string, number>> = {
  VFIO_IOMMU_MAP_DMA: 3,
  VFIO_IOMMU_UNMAP_DMA: 2,
};
