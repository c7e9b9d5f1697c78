/**
 * The selftest mock's test ops (`drivers/iommu/iommufd/selftest.c`, spec §7.3) that need no
 * device: reserved ranges, the temporary memory limit, and page reference checks.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { lastOf, reserve } from '../io-pagetable/io-pagetable.ts';
import { getIoas, putIoas, withIopt } from '../ioas.ts';
import { pinCounts } from '../../mm/pin-counts.ts';
import { readablePages } from '../../mm/physical.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { Ctx } from '../../model/world.ts';

/** `GUP_PIN_COUNTING_BIAS`: each pin adds 1024 to a page's refcount; the check divides it back. */
export const GUP_PIN_COUNTING_BIAS = 1024n;

/** `iommufd_test_add_reserved()`: a reservation with no owner, living as long as the IOAS. */
export function addReserved(call: Call, ctx: Ctx, cmd: Fields): Result {
  const start = big(cmd, 'start');
  const length = big(cmd, 'length');
  if (length === 0n) return refuse(call, fail('EINVAL', 'iommufd_test_add_reserved', 'length is 0'));
  const last = lastOf(start, length);
  if (last === null) return refuse(call, fail('EOVERFLOW', 'iommufd_test_add_reserved', 'start + length overflows'));
  const ioas = getIoas(ctx, num(cmd, 'id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const iopt = reserve(ioas.iopt, { start, last, owner: null });
  if (iopt instanceof Fail) return refuse(call, iopt);
  return ok(putContext(call.world, putIoas(ctx, withIopt(ioas, iopt))));
}

/** `iommufd_test_memory_limit()`: below `sizeof(unsigned long) + sizeof(u32)` is refused. */
export function setTempMemoryLimit(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const limit = big(cmd, 'limit');
  if (limit < 12n) return refuse(call, fail('EINVAL', 'iommufd_test', 'limit below the batch element size'));
  return ok({ ...call.world, tempMemoryLimit: limit });
}

/**
 * `iommufd_test_md_check_refs()`: every page of the user range must carry `refs` pins. Pages
 * are checked in order, so an early mismatch (EIO) wins over a later fault (EFAULT); pages of
 * a huge (compound) mapping are skipped, as the kernel does. The range is read run by run.
 */
export function mdCheckRefs(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const { pageSize } = call.world.config;
  const uptr = big(cmd, 'uptr');
  const length = big(cmd, 'length');
  const refs = big(cmd, 'refs');
  if (length % pageSize !== 0n || uptr % pageSize !== 0n || uptr + length > U64_MAX) {
    return refuse(call, fail('EINVAL', 'iommufd_test_md_check_refs', 'range unaligned or overflows'));
  }
  const reach = readablePages(call.world, call.process, uptr, length / pageSize);
  const pinsOn = pinCounts(call.world);
  for (const run of reach.runs) {
    if (run.compound) continue;
    if (pinsOn(run.obj, run.index, run.count).some((s) => s.pins !== refs)) {
      return refuse(call, fail('EIO', 'iommufd_test_md_check_refs', 'pin count is not refs'));
    }
  }
  if (reach.end < uptr + length) return refuse(call, fail('EFAULT', 'get_user_pages_fast', 'no page at the address'));
  return ok(call.world);
}
