/**
 * Selftest ops on accesses (`selftest.c`, spec §7.3). The `id` of every op but CREATE_ACCESS
 * is the access fd the kernel handed out, not an object id: an fd of anything else is EBADFD.
 */
import { putContext, releaseContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { accessRw, addItem, changeIoas, destroyAccess, destroyItem, newAccess, pinPages } from '../device/access.ts';
import { Fail, fail } from '../../model/fail.ts';
import { chooseFd, fileOf, installFile } from '../../mm/files.ts';
import { getIoas } from '../ioas.ts';
import { lowestFreeId } from '../main/object-table.ts';
import { pinRunAt } from '../pages/pages.ts';
import { pageReader } from '../../mm/physical.ts';
import { revise } from '../../model/revise.ts';
import { MOCK_FLAGS_ACCESS_SYZ, syzAccessIova } from './syz-iova.ts';
import { userMemoryReadable, userMemoryWritable } from '../../mm/user-memory.ts';
import type { Access, AccessItem, Ctx, Process, World } from '../../model/world.ts';

export const MOCK_FLAGS_ACCESS_WRITE = 1n;
export const MOCK_ACCESS_RW_WRITE = 1n;
export const MOCK_ACCESS_RW_SLOW_PATH = 4n;
export const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1n;
/** The selftest refuses larger requests before anything else (ENOMEM), to spare kvzalloc(). */
const ACCESS_LENGTH_MAX = 16n * 1024n * 1024n;

/** `iommufd_test_create_access()`: the fd is taken first, then the access's (invisible) object id. */
export function createAccess(call: Call, ctx: Ctx, cmd: Fields): Result {
  const flags = big(cmd, 'flags');
  if ((flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_test_create_access', 'flags has unknown bits'));
  }
  const fd = chooseFd(call.process, call.choices, 'out_access_fd');
  const id = lowestFreeId(ctx.objects);
  const created = revise(ctx, (d) => {
    d.objects = ctx.objects.set(id, newAccess(id, (flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0n, false));
    d.holders = ctx.holders + 1;
  });
  const ioas = getIoas(created, num(cmd, 'id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const attached = changeIoas(call.world, created, id, ioas.id);
  if (attached instanceof Fail) return refuse(call, attached);
  const world = installFile(putContext(call.world, attached), call.process.pid, fd, { kind: 'access', ctx: ctx.id, access: id });
  return ok(world, { out_access_fd: BigInt(fd) });
}

/** The access fd's release (`iommufd_test_staccess_release()`): the access goes, and its hold on the context. */
export function releaseAccessFile(world: World, ctxId: number, accessId: number): World {
  const ctx = world.contexts.get(ctxId);
  if (ctx === undefined) return world;
  return releaseContext(putContext(world, destroyAccess(world, ctx, accessId)), ctxId);
}

/** `iommufd_access_get()`: the access behind an access fd. */
function accessOf(call: Call, fd: bigint): Fail | { ctx: Ctx; access: Access } {
  const file = fileOf(call.world, call.process, Number(fd));
  if (file === undefined) return fail('EBADFD', 'iommufd_access_get', 'fd is not open');
  if (file.kind !== 'access') return fail('EBADFD', 'iommufd_access_get', 'not a selftest access fd');
  const ctx = call.world.contexts.get(file.ctx);
  const access = ctx?.objects.get(file.access);
  if (ctx === undefined || access?.type !== 'access') return fail('EBADFD', 'iommufd_access_get', 'the access is gone');
  return { ctx, access };
}

/**
 * `iommufd_test_check_pages()`: each pinned page must be the page behind `uptr`, as the caller
 * maps it after the pin (which may have given it its own copy): `world` is after the pin. The
 * pages are compared a stretch at a time, where both sides are consecutive pages.
 */
function checkPages(world: World, process: Process, ctx: Ctx, item: AccessItem, uptr: bigint): Fail | null {
  const { pageSize } = world.config;
  const start = uptr - (item.iova % pageSize);
  let va = start - (start % pageSize);
  const userPage = pageReader(world, process);
  for (const hold of item.holds) {
    const pages = ctx.pages.get(hold.pages);
    const held = pages?.holds.find((h) => h.key === hold.key);
    if (pages === undefined || held === undefined) return fail('EBADE', 'iommufd_test_check_pages', 'pinned range is gone');
    for (let index = held.first; index <= held.last; ) {
      const page = userPage(va, va + (held.last - index) * pageSize);
      if (page === null) return fail('EFAULT', 'get_user_pages_fast', 'no page at the address');
      const pinned = pinRunAt(pages, index);
      if (pinned === null || pinned.obj !== page.obj || pinned.index + (index - pinned.first) !== page.index) {
        return fail('EBADE', 'iommufd_test_check_pages', 'pinned page is not the page at uptr');
      }
      const alike = pinned.last - index + 1n < page.count ? pinned.last - index + 1n : page.count;
      index += alike;
      va += alike * pageSize;
    }
  }
  return null;
}

/** `iommufd_test_access_pages()`. */
export function accessPages(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const length = big(cmd, 'length');
  if (length > ACCESS_LENGTH_MAX) return refuse(call, fail('ENOMEM', 'iommufd_test_access_pages', 'length over 16 MiB'));
  const flags = big(cmd, 'flags');
  if ((flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_test_access_pages', 'flags has unknown bits'));
  }
  const target = accessOf(call, big(cmd, 'id'));
  if (target instanceof Fail) return refuse(call, target);
  if (!target.access.needsPin) return refuse(call, fail('EOPNOTSUPP', 'iommufd_test_access_pages', 'the access does not pin pages'));
  const given = big(cmd, 'iova');
  const iova = (flags & MOCK_FLAGS_ACCESS_SYZ) !== 0n ? syzAccessIova(target.ctx, target.access, given) : given;
  const pinned = pinPages(call.world, target.ctx, target.access.id, iova, length, (flags & MOCK_FLAGS_ACCESS_WRITE) !== 0n);
  if (pinned instanceof Fail) return refuse(call, pinned);
  const world = putContext(call.world, addItem(pinned.ctx, target.access.id, pinned.item));
  const uptr = big(cmd, 'uptr');
  if (uptr !== 0n) {
    const pinner = world.processes.get(call.process.pid) ?? call.process;
    const mismatch = checkPages(world, pinner, pinned.ctx, pinned.item, uptr);
    if (mismatch !== null) return refuse(call, mismatch);
  }
  return ok(world, { out_access_pages_id: BigInt(pinned.item.id) });
}

/** `iommufd_test_access_item_destroy()`. */
export function destroyAccessPages(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const target = accessOf(call, big(cmd, 'id'));
  if (target instanceof Fail) return refuse(call, target);
  const next = destroyItem(call.world, target.ctx, target.access.id, num(cmd, 'access_pages_id'));
  if (next instanceof Fail) return refuse(call, next);
  return ok(putContext(call.world, next));
}

/** `iommufd_test_access_rw()`: the user buffer is read before a write and written after a read. */
export function accessRwOp(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const length = big(cmd, 'length');
  if (length > ACCESS_LENGTH_MAX) return refuse(call, fail('ENOMEM', 'iommufd_test_access_rw', 'length over 16 MiB'));
  const flags = big(cmd, 'flags');
  if ((flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_test_access_rw', 'flags has unknown bits'));
  }
  const target = accessOf(call, big(cmd, 'id'));
  if (target instanceof Fail) return refuse(call, target);
  const write = (flags & MOCK_ACCESS_RW_WRITE) !== 0n;
  const uptr = big(cmd, 'uptr');
  if (write && !userMemoryReadable(call.world, call.process, uptr, length)) {
    return refuse(call, fail('EFAULT', 'copy_from_user', 'user buffer not readable'));
  }
  const given = big(cmd, 'iova');
  const iova = (flags & MOCK_FLAGS_ACCESS_SYZ) !== 0n ? syzAccessIova(target.ctx, target.access, given) : given;
  const failed = accessRw(call.world, target.ctx, target.access.id, iova, length, write);
  if (failed !== null) return refuse(call, failed);
  if (!write && !userMemoryWritable(call.world, call.process, uptr, length)) {
    return refuse(call, fail('EFAULT', 'copy_to_user', 'user buffer not writable'));
  }
  return ok(call.world);
}

/** `iommufd_test_access_replace_ioas()` → `iommufd_access_replace()`. */
export function accessReplaceIoas(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const target = accessOf(call, big(cmd, 'id'));
  if (target instanceof Fail) return refuse(call, target);
  if (target.access.ioas === null) return refuse(call, fail('ENOENT', 'iommufd_access_replace', 'the access has no IOAS'));
  const ioas = getIoas(target.ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const next = changeIoas(call.world, target.ctx, target.access.id, ioas.id);
  if (next instanceof Fail) return refuse(call, next);
  return ok(putContext(call.world, next));
}
