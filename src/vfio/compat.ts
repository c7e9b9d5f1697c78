/**
 * iommufd's VFIO type1 container emulation (`drivers/iommu/iommufd/vfio_compat.c`, spec §3.10
 * and §3.22): `IOMMU_VFIO_IOAS` names the IOAS the legacy container ioctls act on (the compat
 * IOAS), and those ioctls reach `iommufd_vfio_ioctl()` through numbers below iommufd's table.
 *
 * The struct ioctls follow VFIO's size rule, not iommufd's: the kernel reads `minsz` bytes
 * whatever `argsz` says, refuses an `argsz` below `minsz` (EINVAL) and never looks past
 * `minsz` (no E2BIG).
 *
 * A VFIO group joining the context as its container (`VFIO_GROUP_SET_CONTAINER`) makes the
 * compat IOAS if there is none (`iommufd_vfio_compat_ioas_create()`), or, for a no-IOMMU group,
 * puts the context in no-IOMMU mode (`iommufd_vfio_compat_set_no_iommu()`).
 */
import { putContext } from '../iommufd/main/context.ts';
import type { Fields } from '../../events/types.ts';
import type { ContainerArg } from './ioctl-arg.ts';
import { cutIova } from '../iommufd/io-pagetable/area-split.ts';
import { type Call, type Result, big, num, ok, partial, refuse } from '../model/command.ts';
import { Fail, fail } from '../model/fail.ts';
import { type Piece, lastOf, pagesBase } from '../iommufd/io-pagetable/io-pagetable.ts';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  getIoas,
  mapPieces,
  newIoas,
  putIoas,
  unmapIovaRange,
} from '../iommufd/ioas.ts';
import { allocId } from '../iommufd/main/object-table.ts';
import { capable } from './store.ts';
import { VFIO_NOIOMMU_IOMMU } from './container/drivers.ts';
import { VFIO_DMA_CC_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL } from './container/type1.ts';
import { INFO_MINSZ, INFO_SIZE, dmaAvailCap, infoOut, iovaRangeCap } from './container/type1-info.ts';
import { allocUserPages } from '../iommufd/pages/pages.ts';
import { disableLargePages } from '../iommufd/main/option.ts';
import { U64_MAX, holes } from '../model/ranges.ts';
import { revise } from '../model/revise.ts';
import { hasOlder } from '../kernel/profile.ts';
import type { Ctx, Ioas, World } from '../model/world.ts';
import { VFIO_API_VERSION, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_UNMAP_FLAG_ALL } from './uapi.ts';

const IOMMU_VFIO_IOAS_GET = 0n;
const IOMMU_VFIO_IOAS_SET = 1n;
const IOMMU_VFIO_IOAS_CLEAR = 2n;

/** `offsetofend()` of the last field each struct ioctl reads. */
const MAP_MINSZ = 32n;
const UNMAP_MINSZ = 24n;

const U32_MAX = 0xffffffffn;

/** `get_compat_ioas()`: the compat IOAS, ENODEV when none is set. */
export function compatIoas(ctx: Ctx): Ioas | Fail {
  const obj = ctx.vfioIoas === null ? undefined : ctx.objects.get(ctx.vfioIoas);
  return obj?.type === 'ioas' ? obj : fail('ENODEV', 'get_compat_ioas', 'no compat IOAS is set');
}

const withCompatIoas = (ctx: Ctx, id: number | null): Ctx =>
  revise(ctx, (d) => {
    d.vfioIoas = id;
  });

/**
 * `iommufd_vfio_ioas()` (IOMMU_VFIO_IOAS): GET never creates a compat IOAS; SET takes no
 * reference (destroying the IOAS clears the setting); CLEAR destroys nothing.
 */
export function vfioIoas(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_vfio_ioas', '__reserved is not zero'));
  switch (big(cmd, 'op')) {
    case IOMMU_VFIO_IOAS_GET: {
      const ioas = compatIoas(ctx);
      if (ioas instanceof Fail) return refuse(call, ioas);
      return ok(call.world, { ioas_id: BigInt(ioas.id) });
    }
    case IOMMU_VFIO_IOAS_SET: {
      const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
      if (ioas instanceof Fail) return refuse(call, ioas);
      return ok(putContext(call.world, withCompatIoas(ctx, ioas.id)));
    }
    case IOMMU_VFIO_IOAS_CLEAR:
      return ok(putContext(call.world, withCompatIoas(ctx, null)));
    default:
      return refuse(call, fail('EOPNOTSUPP', 'iommufd_vfio_ioas', 'unknown op'));
  }
}

/** A successful legacy ioctl whose return value is its answer. */
const answer = (result: Result, ret: bigint): Result => ({ ...result, ret });

/** `VFIO_GET_API_VERSION`: the argument is not read. */
export function getApiVersion(call: Call): Result {
  return answer(ok(call.world), VFIO_API_VERSION);
}

/** CONFIG_VFIO_NOIOMMU: the host registered VFIO's no-IOMMU driver. */
const noiommuBuilt = (world: World): boolean => world.vfio.config.drivers.includes('noiommu');

/**
 * `iommufd_vfio_check_extension()`: 1 for TYPE1, TYPE1v2 and UNMAP_ALL; NOIOMMU when
 * CONFIG_VFIO_NOIOMMU is built; DMA_CC asks the compat IOAS; 0 for everything else: the retired
 * nesting type, UPDATE_VADDR (the kernel sees no safe way to offer it) and the SPAPR types.
 */
export function checkExtension(call: Call, ctx: Ctx, arg: ContainerArg): Result {
  switch (arg.value) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return answer(ok(call.world), 1n);
    case VFIO_NOIOMMU_IOMMU:
      return answer(ok(call.world), noiommuBuilt(call.world) ? 1n : 0n);
    case VFIO_DMA_CC_IOMMU:
      return cacheCoherent(call, ctx);
    default:
      return answer(ok(call.world), 0n);
  }
}

/**
 * `iommufd_vfio_cc_iommu()`: 1 when every paging HWPT of the compat IOAS enforces cache
 * coherency. A HWPT enforces it only for a device reporting IOMMU_CAP_ENFORCE_CACHE_COHERENCY,
 * which the selftest mock (`mock_domain_capable()`), the one driver modelled, does not: any
 * HWPT makes the answer 0.
 */
function cacheCoherent(call: Call, ctx: Ctx): Result {
  const ioas = compatIoas(ctx);
  if (ioas instanceof Fail) return refuse(call, ioas);
  return answer(ok(call.world), ioas.domains.length === 0 ? 1n : 0n);
}

/**
 * `iommufd_vfio_set_iommu()`: NOIOMMU on a context in no-IOMMU mode (with CONFIG_VFIO_NOIOMMU)
 * needs CAP_SYS_RAWIO (EPERM) and changes nothing; otherwise TYPE1 or TYPE1v2 outside no-IOMMU
 * mode (EINVAL: the SPAPR types too), on a compat IOAS (ENODEV: VFIO refuses a container
 * without a group). TYPE1 may unmap inside a mapping, so the IOAS stops using large IOPTEs, as
 * IOMMU_OPTION HUGE_PAGES=0 does (and fails as it fails).
 */
export function setIommu(call: Call, ctx: Ctx, arg: ContainerArg): Result {
  if (noiommuBuilt(call.world) && arg.value === VFIO_NOIOMMU_IOMMU && ctx.vfioNoIommu) {
    if (!capable(call.process, 'CAP_SYS_RAWIO')) return refuse(call, fail('EPERM', 'iommufd_vfio_set_iommu', 'no-IOMMU needs CAP_SYS_RAWIO'));
    return answer(ok(call.world), 0n);
  }
  if ((arg.value !== VFIO_TYPE1_IOMMU && arg.value !== VFIO_TYPE1v2_IOMMU) || ctx.vfioNoIommu) {
    return refuse(call, fail('EINVAL', 'iommufd_vfio_set_iommu', 'not a type1 iommu type, or the context is in no-IOMMU mode'));
  }
  const ioas = compatIoas(ctx);
  if (ioas instanceof Fail) return refuse(call, ioas);
  if (arg.value === VFIO_TYPE1v2_IOMMU) return answer(ok(call.world), 0n);
  const next = disableLargePages(call, ctx, ioas);
  if (next instanceof Fail) return refuse(call, next);
  return answer(ok(next === ioas ? call.world : putContext(call.world, putIoas(ctx, next))), 0n);
}

/**
 * `iommufd_get_pagesizes()`: the page sizes every domain of the IOAS offers, sizes below
 * PAGE_SIZE folded into PAGE_SIZE (as `vfio_update_pgsize_bitmap()` does), and the IOVA
 * alignment if that is larger, compared as numbers.
 */
function pageSizes(world: World, ctx: Ctx, ioas: Ioas): bigint {
  const { pageSize } = world.config;
  let bitmap = U64_MAX;
  for (const id of ioas.domains) {
    const hwpt = ctx.objects.get(id);
    if (hwpt?.type === 'hwpt_paging') bitmap &= hwpt.domain.pgsizeBitmap;
  }
  const pageMask = U64_MAX & ~(pageSize - 1n);
  if ((bitmap & ~pageMask) !== 0n) bitmap = (bitmap & pageMask) | pageSize;
  return bitmap > ioas.iopt.iovaAlignment ? bitmap : ioas.iopt.iovaAlignment;
}

/**
 * `iommufd_vfio_iommu_get_info()`. The capability chain after the struct is DMA_AVAIL (avail
 * U32_MAX: iommufd's limit is the memory cgroup) then IOVA_RANGE (the holes of the reserved
 * ranges), each padded to 8 bytes; no MIGRATION. `argsz` always comes back as the size of the
 * whole chain (type1 leaves it when it fits), and `cap_offset` points at it only when all of it
 * fit; `min(argsz, sizeof)` bytes are written back.
 */
export function iommuGetInfo(call: Call, ctx: Ctx, arg: ContainerArg): Result {
  if (arg.struct === null) return refuse(call, fail('EFAULT', 'iommufd_vfio_iommu_get_info', 'copy_from_user of a NULL argument'));
  const argsz = big(arg.struct, 'argsz');
  if (argsz < INFO_MINSZ) return refuse(call, fail('EINVAL', 'iommufd_vfio_iommu_get_info', 'argsz below minsz'));
  const ioas = compatIoas(ctx);
  if (ioas instanceof Fail) return refuse(call, ioas);
  const caps = [dmaAvailCap(U32_MAX), iovaRangeCap([...holes([ioas.iopt.reservedSpans], 0n, U64_MAX)])];
  const total = caps.reduce((n, c) => n + c.size, INFO_SIZE);
  return ok(call.world, infoOut(argsz, pageSizes(call.world, ctx, ioas), caps, total));
}

/**
 * A container ioctl iommufd does not emulate (`-ENOIOCTLCMD`, ENOTTY to the caller):
 * `VFIO_IOMMU_DIRTY_PAGES`, v1's ENABLE and DISABLE, the SPAPR ones but GET_INFO's number.
 */
export function notEmulated(call: Call): Result {
  return refuse(call, fail('ENOTTY', 'iommufd_vfio_ioctl', 'no container ioctl has this number'));
}

/**
 * `iommufd_vfio_compat_ioas_create()`, as a VFIO group joins the context: a new IOAS becomes the
 * compat IOAS unless there is one already; a context in no-IOMMU mode refuses (EINVAL). The IOAS
 * takes the lowest free id, as its id is allocated before those checks.
 */
export function compatIoasCreate(ctx: Ctx, choices: Call['choices']): Fail | Ctx {
  const id = allocId(ctx.objects, choices, 'compat_ioas_id');
  if (id instanceof Fail) return id;
  if (ctx.vfioNoIommu) return fail('EINVAL', 'iommufd_vfio_compat_ioas_create', 'the context is in no-IOMMU mode');
  if (!(compatIoas(ctx) instanceof Fail)) return ctx;
  return withCompatIoas(putIoas(ctx, newIoas(id)), id);
}

/** `iommufd_vfio_compat_set_no_iommu()`, as a no-IOMMU group joins: EINVAL when a compat IOAS is set. */
export function compatSetNoIommu(ctx: Ctx): Fail | Ctx {
  if (ctx.vfioIoas !== null) return fail('EINVAL', 'iommufd_vfio_compat_set_no_iommu', 'the context has a compat IOAS');
  return revise(ctx, (d) => {
    d.vfioNoIommu = true;
  });
}

/**
 * `iommufd_vfio_map_dma()`: only READ and WRITE (VADDR is EINVAL), neither is fine too. Then
 * `iopt_map_user_pages()` at the fixed IOVA, as IOAS_MAP maps user memory: a new pages object,
 * pinned now if the IOAS has a domain. Nothing is written back.
 */
export function iommuMapDma(call: Call, ctx: Ctx, arg: ContainerArg): Result {
  if (arg.struct === null) return refuse(call, fail('EFAULT', 'iommufd_vfio_map_dma', 'copy_from_user of a NULL argument'));
  const map = arg.struct;
  const flags = big(map, 'flags');
  if (big(map, 'argsz') < MAP_MINSZ || (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) !== 0n) {
    return refuse(call, fail('EINVAL', 'iommufd_vfio_map_dma', 'argsz below minsz or flags has unknown bits'));
  }
  const ioas = compatIoas(ctx);
  if (ioas instanceof Fail) return refuse(call, ioas);
  const vaddr = big(map, 'vaddr');
  const size = big(map, 'size');
  const writable = (flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0n;
  const pages = allocUserPages(call.world, call.process, ctx, vaddr, size, writable);
  if (pages instanceof Fail) return refuse(call, pages);
  const piece: Piece = { pages, startByte: vaddr - pagesBase(pages, call.world.config.pageSize), length: size };
  const mapFlags =
    IOMMU_IOAS_MAP_FIXED_IOVA |
    (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0n) |
    ((flags & VFIO_DMA_MAP_FLAG_READ) !== 0n ? IOMMU_IOAS_MAP_READABLE : 0n);
  const mapped = mapPieces(call, ctx, ioas, [piece], size, mapFlags, big(map, 'iova'), 'iova', pages);
  return mapped.errno === null ? ok(mapped.world) : mapped;
}

/**
 * `iommufd_vfio_unmap_dma()`: only the ALL flag (GET_DIRTY_BITMAP and VADDR are EINVAL).
 * ALL needs iova and size 0 and empties the IOAS. Otherwise, in TYPE1 mode (large pages
 * disabled) the areas are first cut at `iova - 1` and `iova + size - 1` (64-bit wrapping, the
 * first cut skipped at iova 0), so that a range inside a mapping can go; then
 * `iopt_unmap_iova()`. An empty range unmaps nothing and succeeds (ENOENT before 6.18).
 * `size` is written back with the bytes unmapped, on failure too, except when the ALL check or
 * a cut failed; the cuts made and the areas removed before a failure stay.
 */
export function iommuUnmapDma(call: Call, ctx: Ctx, arg: ContainerArg): Result {
  if (arg.struct === null) return refuse(call, fail('EFAULT', 'iommufd_vfio_unmap_dma', 'copy_from_user of a NULL argument'));
  const unmap = arg.struct;
  const flags = big(unmap, 'flags');
  if (big(unmap, 'argsz') < UNMAP_MINSZ || (flags & ~VFIO_DMA_UNMAP_FLAG_ALL) !== 0n) {
    return refuse(call, fail('EINVAL', 'iommufd_vfio_unmap_dma', 'argsz below minsz or flags has unknown bits'));
  }
  const ioas = compatIoas(ctx);
  if (ioas instanceof Fail) return refuse(call, ioas);
  const iova = big(unmap, 'iova');
  const size = big(unmap, 'size');
  const stored = (next: Ctx): World => (next === ctx ? call.world : putContext(call.world, next));
  if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0n) {
    if (iova !== 0n || size !== 0n) return refuse(call, fail('EINVAL', 'iommufd_vfio_unmap_dma', 'unmap all with a non-zero iova or size'));
    return unmapped(stored, unmapIovaRange(call.world, ctx, ioas.id, 0n, U64_MAX));
  }
  let cut = ctx;
  if (ioas.hugePagesDisabled) {
    const end = (iova + size - 1n) & U64_MAX;
    const cuts = cutIova(call.world, ctx, ioas.id, iova === 0n ? [end] : [end, (iova - 1n) & U64_MAX]);
    if (cuts.error !== null) return partial(stored(cuts.ctx), cuts.error);
    cut = cuts.ctx;
  }
  // iopt_unmap_iova()
  if (size === 0n) return partial(stored(cut), fail('EINVAL', 'iopt_unmap_iova', 'length is 0'), { size: 0n });
  const last = lastOf(iova, size);
  if (last === null) return partial(stored(cut), fail('EOVERFLOW', 'iopt_unmap_iova', 'iova + length overflows'), { size: 0n });
  const outcome = unmapIovaRange(call.world, cut, ioas.id, iova, last);
  // Before afb47765f923 (6.18), iopt_unmap_iova_range() began at -ENOENT and cleared it only once it unmapped something.
  if (outcome.error === null && outcome.unmapped === 0n && hasOlder(call.world.config.kernel, 'compat-unmap-empty-enoent')) {
    return unmapped(stored, { ...outcome, error: fail('ENOENT', 'iopt_unmap_iova_range', 'nothing mapped in the range') });
  }
  return unmapped(stored, outcome);
}

/** The unmap loop's outcome, `size` written back whether it failed midway or not. */
function unmapped(stored: (ctx: Ctx) => World, outcome: ReturnType<typeof unmapIovaRange>): Result {
  const out = { size: outcome.unmapped };
  const world = stored(outcome.ctx);
  return outcome.error === null ? ok(world, out) : partial(world, outcome.error, out);
}
