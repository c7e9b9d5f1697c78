/**
 * The selftest's dma-buf (`iommufd_test_dmabuf_get()`, `iommufd_test_dmabuf_revoke()` of
 * selftest.c): a small buffer of kernel memory exported as a dma-buf, whose fd is the ioctl's
 * return value, and a revoke switch. A revoke, either way, is `dma_buf_move_notify()`: iommufd
 * takes it as the end of what it mapped (`iopt_revoke_notify()` unmaps those areas from their
 * domains; they stay in their IOAS), and while revoked, new maps of it fail (ENODEV).
 */
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { dmabufOf, withRevoked } from '../../mm/dma-buf.ts';
import { chooseFd, installFile } from '../../mm/files.ts';
import type { Ctx } from '../../model/world.ts';

/** `PAGE_SIZE * 512`: the largest buffer the selftest exports. */
const MAX_PAGES = 512n;

/** `iommufd_test_dmabuf_get()`: `length` rounded up to pages, 1 to 512 of them (EINVAL). */
export function dmabufGet(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const { pageSize } = call.world.config;
  const length = ((big(cmd, 'length') + pageSize - 1n) / pageSize) * pageSize;
  if (length === 0n || length > pageSize * MAX_PAGES) return refuse(call, fail('EINVAL', 'iommufd_test_dmabuf_get', 'length is 0 or over 512 pages'));
  const fd = chooseFd(call.process, call.choices, 'ret');
  const world = installFile(call.world, call.process.pid, fd, { kind: 'dmabuf', size: length, exporter: { kind: 'selftest' }, ranges: 1, revoked: false });
  return { ...ok(world), ret: BigInt(fd) };
}

/** `iommufd_test_dmabuf_revoke()`: the fd must be a dma-buf (`dma_buf_get()`) of the selftest's (EOPNOTSUPP). */
export function dmabufRevoke(call: Call, _ctx: Ctx, cmd: Fields): Result {
  const dmabuf = dmabufOf(call.world, call.process, Number(big(cmd, 'dmabuf_fd')));
  if (dmabuf instanceof Fail) return refuse(call, dmabuf);
  if (dmabuf.exporter.kind !== 'selftest') return refuse(call, fail('EOPNOTSUPP', 'iommufd_test_dmabuf_revoke', 'not the selftest\'s dma-buf'));
  return ok(withRevoked(call.world, dmabuf, big(cmd, 'revoked') !== 0n));
}
