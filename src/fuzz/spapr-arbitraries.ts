/**
 * Random SPAPR TCE events on the fuzz host's POWER side: two PowerNV PEs (groups 3 and 4) and
 * guest RAM on a huge page. Sequences set containers up as QEMU's sPAPR code does (v1: ENABLE
 * then maps in the default window; v2: memory pre-registered, the default window removed or
 * left to be made, windows of 4K and 64K or 2M pages created) and then map and unmap inside and
 * around the windows, so that most of their ioctls succeed and the rest fail as near misses do.
 * Others share a region between two containers of one process, unregister a region still mapped
 * (the kernel's leak), let a forked child act on its parent's container or set up its own and
 * exit. Single events add the edges: other sizes, page shifts and levels, short structs, flags.
 *
 * The sequences name their own container and group fds by what opened them (fd-refs.ts).
 */
import fc from 'fast-check';
import type { FuzzEvent } from './arbitraries.ts';
import type { FdRef } from './fd-refs.ts';
import type { Sequence } from './vfio-arbitraries.ts';

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const PAGE = 0x1000n;
const K64 = 0x10000n;
const M2 = 0x200000n;

/** The 32-bit window's size, of which a v1 ENABLE charges the 16 pages (its table holds 512 TCEs all the same: `tces`). */
const TCE32_SIZE = K64;
/** Where PowerNV places the second window (`tce_bypass_base`, the `spapr` device default). */
const WINDOW64 = 1n << 59n;
/** 4K, 64K and 2M IOMMU pages: the host's page, a POWER page, its huge page. */
const PGSIZES = PAGE | K64 | M2;

/** The POWER PEs of the fuzz host, alone in groups 3 and 4. */
export const SPAPR_DEVICES = [3, 4].map((group) => ({
  name: `000${group}:01:00.0`,
  group,
  kind: 'spapr',
  tce32_size: hex(TCE32_SIZE),
  pgsizes: hex(PGSIZES),
}));

/** Guest RAM on one shared huge page (hugetlbfs, as QEMU backs a POWER guest): its regions back IOMMU pages up to 2M. */
export const HUGE_BUFFER = 0x7f0000200000n;
export const HUGE_MAPPING = { addr: hex(HUGE_BUFFER), length: hex(M2), shared: true, hugepage: true };

interface Region {
  readonly vaddr: bigint;
  readonly size: bigint;
}

/**
 * The regions sequences pre-register, by the IOMMU page size they back: 4K ones in the small
 * private and shared buffers, 64K ones on the huge page (16 pages charged each). Two of each,
 * so that containers register the same one and maps find it, and the fuzz process's 64 pages of
 * RLIMIT_MEMLOCK take a container's regions and windows.
 */
function regions(buffer: bigint, shared: bigint): { readonly small: readonly Region[]; readonly huge: readonly Region[] } {
  return {
    small: [
      { vaddr: buffer + 0x8000n, size: 0x4000n },
      { vaddr: shared, size: 0x8000n },
    ],
    huge: [
      { vaddr: HUGE_BUFFER, size: K64 },
      { vaddr: HUGE_BUFFER + 0x20000n, size: K64 },
    ],
  };
}

/** A window a sequence maps in: its bus start, its IOMMU page shift, the `window_size` asked for. */
interface Window {
  readonly start: bigint;
  readonly shift: number;
  readonly size: bigint;
}

/**
 * How many TCEs the window has: PowerNV's table holds at least a page of them
 * (`pnv_pci_ioda2_table_alloc_pages()`: 512 with 4K pages), so a small window reaches further
 * than asked.
 */
const tces = (w: Window): bigint => {
  const asked = w.size >> BigInt(w.shift);
  return asked > PAGE / 8n ? asked : PAGE / 8n;
};

/** The default window, made on the first MAP or CREATE: the PE's 32-bit window in 4K pages. */
const DEFAULT_WINDOW: Window = { start: 0n, shift: 12, size: TCE32_SIZE };
const WINDOW_64K: Window = { start: WINDOW64, shift: 16, size: 0x100000n };

/** The second windows sequences create, with how often. */
const SECOND_WINDOWS: readonly { readonly weight: number; readonly arbitrary: fc.Arbitrary<Window> }[] = [
  { weight: 6, arbitrary: fc.constant(WINDOW_64K) },
  { weight: 1, arbitrary: fc.constant({ start: WINDOW64, shift: 21, size: 0x400000n }) },
];

const CONTAINER: FdRef = { newest: 'container' };
const OLDER_CONTAINER: FdRef = { newest: 'container', back: 1 };
const GROUP: FdRef = { newest: 'group' };
const OLDER_GROUP: FdRef = { newest: 'group', back: 1 };
const POWER_GROUPS = [3, 4];

/**
 * Opens a container and a free POWER group (when neither is free, the process first closes
 * its oldest one, detaching it from the container an earlier sequence left it in, as a
 * restarted QEMU finds its group free), puts the group in the container, sets the type.
 */
function setUp(type: 'SPAPR_TCE_IOMMU' | 'SPAPR_TCE_v2_IOMMU', pid?: 'child'): FuzzEvent[] {
  const by = pid === undefined ? {} : { pid };
  return [
    { op: 'CLOSE', ...by, args: { fd: { reclaim: POWER_GROUPS } } },
    { op: 'OPEN', ...by, args: { path: '/dev/vfio/vfio' } },
    { op: 'OPEN', ...by, args: { path: { free: POWER_GROUPS } } },
    { op: 'VFIO_GROUP_SET_CONTAINER', ...by, fd: GROUP, args: { container_fd: CONTAINER } },
    { op: 'VFIO_SET_IOMMU', ...by, fd: CONTAINER, args: { arg: type } },
  ];
}

/** The group's file, then the container's, closed: the container is released. */
const tearDown = (group: FdRef = GROUP, container: FdRef = CONTAINER): FuzzEvent[] => [
  { op: 'CLOSE', args: { fd: group } },
  { op: 'CLOSE', args: { fd: container } },
];

const register = (r: Region): FuzzEvent => ({ op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', fd: CONTAINER, args: { vaddr: hex(r.vaddr), size: hex(r.size) } });
const unregister = (r: Region, fd: FdRef = CONTAINER): FuzzEvent => ({ op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', fd, args: { vaddr: hex(r.vaddr), size: hex(r.size) } });
const create = (w: Window, levels: number): FuzzEvent => ({
  op: 'VFIO_IOMMU_SPAPR_TCE_CREATE',
  fd: CONTAINER,
  args: { page_shift: w.shift, window_size: hex(w.size), levels },
});

/** MAP or UNMAP arguments: `iova`, `size`, and for a MAP where it maps from. */
interface Dma {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr: bigint;
}

const mapEvent = (d: Dma, flags: readonly string[], fd: FdRef = CONTAINER, pid?: 'child'): FuzzEvent => ({
  op: 'VFIO_IOMMU_MAP_DMA',
  fd,
  ...(pid === undefined ? {} : { pid }),
  args: { flags, vaddr: hex(d.vaddr), iova: hex(d.iova), size: hex(d.size) },
});
const unmapEvent = (d: Dma): FuzzEvent => ({ op: 'VFIO_IOMMU_UNMAP_DMA', fd: CONTAINER, args: { iova: hex(d.iova), size: hex(d.size) } });

const directions = fc.constantFrom<readonly string[]>(['READ', 'WRITE'], ['READ', 'WRITE'], ['READ', 'WRITE'], ['READ'], ['WRITE']);

/**
 * A MAP or UNMAP of window `w` from region `r`: mostly whole IOMMU pages inside both, else one
 * of the near misses — across the window's end (the kernel checks the first IOVA only), just
 * past it or below it (ENXIO), off a page boundary (the raw 1), past the region (EINVAL).
 */
function dmaIn(w: Window, r: Region): fc.Arbitrary<Dma> {
  const page = 1n << BigInt(w.shift);
  const pages = r.size / page > 0n ? r.size / page : 1n;
  // The first entries asked for (16 at most), so that maps and unmaps meet.
  const asked = w.size >> BigInt(w.shift);
  const near = asked < 1n ? 1n : asked > 16n ? 16n : asked;
  const inside = fc
    .record({ at: fc.bigInt({ min: 0n, max: near - 1n }), from: fc.bigInt({ min: 0n, max: pages - 1n }), n: fc.bigInt({ min: 1n, max: 3n }) })
    .map(({ at, from, n }) => {
      const count = [n, pages - from].reduce((a, b) => (a < b ? a : b));
      return { iova: w.start + at * page, size: count * page, vaddr: r.vaddr + from * page };
    });
  const end = w.start + tces(w) * page;
  const misses = fc.constantFrom<Dma>(
    { iova: end - page, size: 2n * page, vaddr: r.vaddr },
    { iova: end, size: page, vaddr: r.vaddr },
    { iova: w.start === 0n ? end + page : w.start - page, size: page, vaddr: r.vaddr },
    { iova: w.start + 0x800n, size: page, vaddr: r.vaddr },
    { iova: w.start, size: r.size + page, vaddr: r.vaddr },
  );
  return fc.oneof({ weight: 9, arbitrary: inside }, { weight: 1, arbitrary: misses });
}

/** A MAP or two, then maybe an UNMAP, of one window and region. */
function mapsIn(w: Window, r: Region): fc.Arbitrary<FuzzEvent[]> {
  return fc
    .tuple(fc.array(fc.tuple(dmaIn(w, r), directions), { minLength: 1, maxLength: 2 }), fc.array(dmaIn(w, r), { maxLength: 1 }))
    .map(([maps, unmaps]) => [...maps.map(([d, flags]) => mapEvent(d, flags)), ...unmaps.map(unmapEvent)]);
}

/** A v1 map's memory: the small buffers, which v1 pins page by page as it maps. */
const v1Region = (buffer: bigint, shared: bigint): fc.Arbitrary<Region> =>
  fc.constantFrom<Region>({ vaddr: buffer, size: 0x10000n }, { vaddr: shared + 0x8000n, size: 0x8000n });

/** The SPAPR arbitraries over the fuzz memory at `buffer` and `shared`, issued by `pid`. */
export function spaprArbitraries(
  buffer: bigint,
  shared: bigint,
  pid: fc.Arbitrary<number>,
): { readonly commands: Readonly<Record<string, fc.Arbitrary<FuzzEvent>>>; readonly sequences: readonly Sequence[] } {
  const { small, huge } = regions(buffer, shared);
  const anyRegion = fc.constantFrom(...small, ...huge);
  const hugeRegion = fc.constantFrom(...huge);
  /** The newest container, mostly the SPAPR one; sometimes the one before it. */
  const fd = fc.constantFrom(CONTAINER, CONTAINER, CONTAINER, OLDER_CONTAINER);
  const issue = (op: string, args: fc.Arbitrary<Record<string, unknown> | undefined>) =>
    fc.tuple(args, pid, fd).map(([a, p, f]): FuzzEvent => ({
      op,
      fd: f,
      ...(p === 1 ? {} : { pid: p }),
      ...(a === undefined ? {} : { args: a }),
    }));
  /** A region or a near miss of one: overlapping another, off a page, wrapping, a flag, a short struct. */
  const regionArgs = fc.oneof(
    { weight: 6, arbitrary: anyRegion.map((r): Record<string, unknown> => ({ vaddr: hex(r.vaddr), size: hex(r.size) })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Record<string, unknown>>(
        { vaddr: hex(buffer + 0x9000n), size: '0x4000' },
        { vaddr: hex(HUGE_BUFFER), size: hex(M2) },
        { vaddr: hex(buffer + 0x800n), size: '0x1000' },
        { vaddr: '0xfffffffffffff000', size: '0x2000' },
        { vaddr: hex(buffer), size: '0x1000', flags: 1 },
        { vaddr: hex(buffer), size: '0x1000', argsz: 23 },
      ),
    },
  );
  const windowArgs = fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...SECOND_WINDOWS).chain((w) => fc.constantFrom(1, 1, 2).map((levels) => ({ page_shift: w.shift, window_size: hex(w.size), levels }))) },
    {
      weight: 2,
      arbitrary: fc.record({
        page_shift: fc.constantFrom(12, 13, 16, 21, 24),
        window_size: fc.constantFrom(0x1000n, 0x10000n, 0x30000n, 0x100000n, 1n << 40n).map(hex),
        levels: fc.constantFrom(0, 1, 2, 3, 5, 6),
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom<Record<string, unknown>>({ page_shift: 12, window_size: '0x10000', levels: 1, flags: 1 }, { page_shift: 12, window_size: '0x10000', levels: 1, argsz: 39 }) },
  );
  const around = fc.oneof(fc.constant(DEFAULT_WINDOW), ...SECOND_WINDOWS).chain((w) => anyRegion.chain((r) => dmaIn(w, r)));
  const commands = {
    VFIO_IOMMU_SPAPR_TCE_GET_INFO: issue('VFIO_IOMMU_SPAPR_TCE_GET_INFO', fc.constantFrom(undefined, undefined, { argsz: 16 }, { argsz: 15 })),
    VFIO_IOMMU_ENABLE: issue('VFIO_IOMMU_ENABLE', fc.constant(undefined)),
    VFIO_IOMMU_DISABLE: issue('VFIO_IOMMU_DISABLE', fc.constant(undefined)),
    VFIO_IOMMU_SPAPR_REGISTER_MEMORY: issue('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', regionArgs),
    VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: issue('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', regionArgs),
    VFIO_IOMMU_SPAPR_TCE_CREATE: issue('VFIO_IOMMU_SPAPR_TCE_CREATE', windowArgs),
    VFIO_IOMMU_SPAPR_TCE_REMOVE: issue(
      'VFIO_IOMMU_SPAPR_TCE_REMOVE',
      fc.constantFrom(0n, 0n, PAGE, WINDOW64, WINDOW64, WINDOW64 + K64, 0x123000n).map((s) => ({ start_addr: hex(s) })),
    ),
    VFIO_IOMMU_MAP_DMA: issue(
      'VFIO_IOMMU_MAP_DMA',
      fc.tuple(around, directions).map(([d, flags]) => ({ flags, vaddr: hex(d.vaddr), iova: hex(d.iova), size: hex(d.size) })),
    ),
    VFIO_IOMMU_UNMAP_DMA: issue('VFIO_IOMMU_UNMAP_DMA', around.map((d) => ({ iova: hex(d.iova), size: hex(d.size) }))),
  };
  const v2Guest = fc
    .record({
      small: fc.constantFrom(...small),
      big: hugeRegion,
      second: fc.oneof(...SECOND_WINDOWS),
      levels: fc.constantFrom(1, 1, 2),
      removeDefault: fc.boolean(),
      // QEMU's listener registering a section again, as after a memory region is re-added: EBUSY.
      again: fc.constantFrom(false, false, false, true),
      info: fc.constantFrom<object | undefined>(undefined, undefined, { argsz: 16 }),
      end: fc.constantFrom('keep', 'keep', 'close'),
    })
    .chain((s) =>
      // Removed while still pending, the default window is made again by hand as QEMU does: the same 4K window at 0.
      fc.tuple(mapsIn(DEFAULT_WINDOW, s.small), mapsIn(s.second, s.big)).map(([low, high]): FuzzEvent[] => [
        ...setUp('SPAPR_TCE_v2_IOMMU'),
        register(s.small),
        register(s.big),
        ...(s.again ? [register(s.small)] : []),
        { op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', fd: CONTAINER, ...(s.info === undefined ? {} : { args: s.info }) },
        ...(s.removeDefault ? [{ op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', fd: CONTAINER, args: { start_addr: '0x0' } }, create(DEFAULT_WINDOW, 1)] : []),
        create(s.second, s.levels),
        ...low,
        ...high,
        ...(s.end === 'close' ? tearDown() : []),
      ]),
    );
  const v1Guest = fc
    .record({ r: v1Region(buffer, shared), disable: fc.boolean(), end: fc.constantFrom('keep', 'close') })
    .chain((s) =>
      mapsIn(DEFAULT_WINDOW, s.r).map((dma): FuzzEvent[] => [
        ...setUp('SPAPR_TCE_IOMMU'),
        { op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', fd: CONTAINER },
        { op: 'VFIO_IOMMU_ENABLE', fd: CONTAINER },
        ...dma,
        ...(s.disable ? [{ op: 'VFIO_IOMMU_DISABLE', fd: CONTAINER }] : []),
        ...(s.end === 'close' ? tearDown() : []),
      ]),
    );
  // One container registers a region and maps from it; another, in the same process,
  // registers the same one (a reference, no charge) and maps from it, through a 64K window when
  // the region is on the huge page; then either lets its reference go.
  const sharedRegion = fc
    .record({ r: anyRegion, firstGoes: fc.boolean(), end: fc.constantFrom('keep', 'close') })
    .chain((s) => {
      const w = huge.includes(s.r) ? WINDOW_64K : DEFAULT_WINDOW;
      return fc.tuple(mapsIn(DEFAULT_WINDOW, s.r), mapsIn(w, s.r)).map(([first, second]): FuzzEvent[] => [
        ...setUp('SPAPR_TCE_v2_IOMMU'),
        register(s.r),
        ...first,
        ...setUp('SPAPR_TCE_v2_IOMMU'),
        register(s.r),
        ...(w === DEFAULT_WINDOW ? [] : [create(w, 1)]),
        ...second,
        unregister(s.r, s.firstGoes ? OLDER_CONTAINER : CONTAINER),
        ...(s.end === 'close' ? [...tearDown(), ...tearDown(OLDER_GROUP, CONTAINER)] : []),
      ]);
    });
  // The kernel answers 0 to an unregister while TCEs point into the region, which stays pinned
  // and charged with no container holding it (docs/spapr-unregister-quirk.md).
  const unregisterMapped = fc
    .record({ r: fc.constantFrom(...small), again: fc.boolean(), unmapFirst: fc.boolean(), reregister: fc.boolean(), end: fc.constantFrom('keep', 'close') })
    .chain((s) =>
      dmaIn(DEFAULT_WINDOW, s.r).map((d): FuzzEvent[] => [
        ...setUp('SPAPR_TCE_v2_IOMMU'),
        register(s.r),
        mapEvent({ ...d, size: PAGE }, ['READ', 'WRITE']),
        ...(s.unmapFirst ? [unmapEvent({ ...d, size: PAGE })] : []),
        unregister(s.r),
        ...(s.again ? [unregister(s.r)] : []),
        ...(s.unmapFirst ? [] : [unmapEvent({ ...d, size: PAGE })]),
        ...(s.reregister ? [register(s.r)] : []),
        ...(s.end === 'close' ? tearDown() : []),
      ]),
    );
  // A forked child acts on its parent's container, bound to the parent's mm (EPERM) unless no
  // ioctl bound it yet; then, handed the parent's newest group (both processes close it), sets
  // up a container of its own and exits, which releases it.
  const parent = fc.oneof(
    { weight: 2, arbitrary: v1Region(buffer, shared).map((r) => [...setUp('SPAPR_TCE_IOMMU'), { op: 'VFIO_IOMMU_ENABLE', fd: CONTAINER }, mapEvent({ iova: 0n, size: PAGE, vaddr: r.vaddr }, ['READ'])]) },
    { weight: 2, arbitrary: anyRegion.map((r) => [...setUp('SPAPR_TCE_v2_IOMMU'), register(r), create(WINDOW_64K, 1)]) },
    { weight: 1, arbitrary: fc.constant<FuzzEvent[]>([]) },
  );
  const child = fc.record({ before: parent, r: anyRegion, own: fc.boolean(), d: around, maps: fc.boolean() }).map(({ before, r, own, d, maps }): FuzzEvent[] => [
    ...before,
    { op: 'FORK' },
    maps ? mapEvent(d, ['READ', 'WRITE'], CONTAINER, 'child') : { op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', pid: 'child', fd: CONTAINER, args: { vaddr: hex(r.vaddr), size: hex(r.size) } },
    ...(own
      ? [
          { op: 'CLOSE', args: { fd: GROUP } },
          { op: 'CLOSE', pid: 'child', args: { fd: GROUP } },
          ...setUp('SPAPR_TCE_v2_IOMMU', 'child'),
          { op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', pid: 'child', fd: CONTAINER, args: { vaddr: hex(r.vaddr), size: hex(r.size) } },
          mapEvent({ iova: 0n, size: PAGE, vaddr: r.vaddr }, ['READ'], CONTAINER, 'child'),
        ]
      : []),
    { op: 'EXIT', args: { pid: 'child' } },
  ]);
  const SET_UP = ['CLOSE', 'OPEN', 'VFIO_GROUP_SET_CONTAINER', 'VFIO_SET_IOMMU'];
  const DMA = ['VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA'];
  const V2 = [...SET_UP, ...DMA, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY'];
  return {
    commands,
    sequences: [
      { ops: [...V2, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'VFIO_IOMMU_SPAPR_TCE_CREATE', 'VFIO_IOMMU_SPAPR_TCE_REMOVE'], weight: 1, arbitrary: v2Guest },
      { ops: [...SET_UP, ...DMA, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'VFIO_IOMMU_ENABLE', 'VFIO_IOMMU_DISABLE'], weight: 1, arbitrary: v1Guest },
      { ops: [...V2, 'VFIO_IOMMU_SPAPR_TCE_CREATE'], weight: 1, arbitrary: sharedRegion },
      { ops: V2, weight: 1, arbitrary: unregisterMapped },
      { ops: [...V2, 'FORK', 'EXIT', 'VFIO_IOMMU_SPAPR_TCE_CREATE', 'VFIO_IOMMU_ENABLE'], weight: 1, arbitrary: child },
    ],
  };
}
