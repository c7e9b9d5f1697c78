/**
 * `IOMMU_OPTION` (`iommufd_option()`, spec §3.9): the context's RLIMIT accounting mode and an
 * IOAS's use of large pages.
 */
import { putContext } from './context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { conformsTo } from '../io-pagetable/io-pagetable.ts';
import { alignmentOf } from '../hw-pagetable/hw-pagetable.ts';
import { getIoas, putIoas } from '../ioas.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Ioas } from '../../model/world.ts';

export const IOMMU_OPTION_RLIMIT_MODE = 0n;
export const IOMMU_OPTION_HUGE_PAGES = 1n;
export const IOMMU_OPTION_OP_SET = 0n;
export const IOMMU_OPTION_OP_GET = 1n;

export function option(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_option', '__reserved is not zero'));
  const id = big(cmd, 'option_id');
  if (id === IOMMU_OPTION_RLIMIT_MODE) return rlimitMode(call, ctx, cmd);
  if (id === IOMMU_OPTION_HUGE_PAGES) return hugePages(call, ctx, cmd);
  return refuse(call, fail('EOPNOTSUPP', 'iommufd_option', 'unknown option_id'));
}

/** `iommufd_option_rlimit_mode()`: only an empty context may change how it charges pins. */
function rlimitMode(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, 'object_id') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_option_rlimit_mode', 'object_id is not zero'));
  const op = big(cmd, 'op');
  if (op === IOMMU_OPTION_OP_GET) return ok(call.world, { val64: ctx.accountMode === 'mm' ? 1n : 0n });
  if (op !== IOMMU_OPTION_OP_SET) return refuse(call, fail('EOPNOTSUPP', 'iommufd_option_rlimit_mode', 'unknown op'));
  if (!call.process.caps.includes('CAP_SYS_RESOURCE')) return refuse(call, fail('EPERM', 'iommufd_option_rlimit_mode', 'no CAP_SYS_RESOURCE'));
  if (ctx.objects.size !== 0 && !call.world.config.bugs.has('rlimit-mode-busy-ignored')) return refuse(call, fail('EBUSY', 'iommufd_option_rlimit_mode', 'the context has objects'));
  const val = big(cmd, 'val64');
  if (val !== 0n && val !== 1n) return refuse(call, fail('EINVAL', 'iommufd_option_rlimit_mode', 'val64 is not 0 or 1'));
  const next = revise(ctx, (d) => {
    d.accountMode = val === 1n ? 'mm' : 'user';
  });
  return ok(putContext(call.world, next), { val64: val });
}

/** `iommufd_ioas_option_huge_pages()`. */
function hugePages(call: Call, ctx: Ctx, cmd: Fields): Result {
  const ioas = getIoas(ctx, num(cmd, 'object_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const op = big(cmd, 'op');
  if (op === IOMMU_OPTION_OP_GET) return ok(call.world, { val64: ioas.hugePagesDisabled ? 0n : 1n });
  if (op !== IOMMU_OPTION_OP_SET) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_option_huge_pages', 'unknown op'));
  const val = big(cmd, 'val64');
  if (val === 1n) return commit(call, ctx, recomputeAlignment(call, ctx, withHugePages(ioas, false)), val);
  if (val !== 0n) return refuse(call, fail('EINVAL', 'iommufd_ioas_option_huge_pages', 'val64 is not 0 or 1'));
  if (ioas.hugePagesDisabled) return ok(call.world, { val64: val });
  return commit(call, ctx, disableLargePages(call, ctx, ioas), val);
}

/**
 * `iopt_disable_large_pages()`, also VFIO_SET_IOMMU's TYPE1: refused (EINVAL) once a domain
 * holds mappings, which may sit in large IOPTEs; the alignment rises to PAGE_SIZE. An IOAS
 * that has them disabled already comes back as it is.
 */
export function disableLargePages(call: Call, ctx: Ctx, ioas: Ioas): Ioas | Fail {
  if (ioas.hugePagesDisabled) return ioas;
  if (ioas.domains.length > 0 && ioas.iopt.areas.size > 0) return fail('EINVAL', 'iopt_disable_large_pages', 'a domain already maps areas');
  return recomputeAlignment(call, ctx, withHugePages(ioas, true));
}

function commit(call: Call, ctx: Ctx, ioas: Ioas | Fail, val: bigint): Result {
  if (ioas instanceof Fail) return refuse(call, ioas);
  return ok(putContext(call.world, putIoas(ctx, ioas)), { val64: val });
}

const withHugePages = (ioas: Ioas, disabled: boolean): Ioas =>
  revise(ioas, (d) => {
    d.hugePagesDisabled = disabled;
  });

/**
 * `iopt_calculate_iova_alignment()`: the largest of PAGE_SIZE (large pages disabled) or 1,
 * each domain's smallest page size and each access's alignment; raising it needs every area
 * to conform (EADDRINUSE).
 */
export function recomputeAlignment(call: Call, ctx: Ctx, ioas: Ioas): Ioas | Fail {
  const alignment = alignmentOf(call.world, ctx, ioas);
  if (alignment > ioas.iopt.iovaAlignment && !conformsTo(ioas.iopt, call.world.config, alignment)) {
    return fail('EADDRINUSE', 'iopt_check_iova_alignment', 'an area breaks the new alignment');
  }
  return revise(ioas, (d) => {
    if (alignment !== ioas.iopt.iovaAlignment) d.iopt = { ...ioas.iopt, iovaAlignment: alignment };
  });
}
