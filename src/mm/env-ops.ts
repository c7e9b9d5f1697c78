/**
 * Environment events: what processes did around the ioctls (open, close, mmap, munmap,
 * memfd_create, ftruncate), modelled as far as iommufd can observe them.
 */
import type { Fields } from '../../events/types.ts';
import { isFree, lowestFreeAddress, mapUser, mmapChoiceAlign, mmapGranule, unmapUser } from './address-space.ts';
import { type Call, type Result, big, ok, refuse } from '../model/command.ts';
import { newContext } from '../iommufd/main/context.ts';
import { fail } from '../model/fail.ts';
import { closeFd } from './file-release.ts';
import { chooseFd, fileOf, installFile } from './files.ts';
import { revise } from '../model/revise.ts';
import type { Mapping, ModelConfig, Process, World } from '../model/world.ts';

const PROT_READ = 1n;
const PROT_WRITE = 2n;

export const IOMMU_PATH = '/dev/iommu';
/** The VFIO container node, which iommufd provides with CONFIG_IOMMUFD_VFIO_CONTAINER. */
export const VFIO_CONTAINER_PATH = '/dev/vfio/vfio';

const roundUp = (v: bigint, to: bigint): bigint => ((v + to - 1n) / to) * to;

/** The mapping an MMAP with these arguments makes at `addr`; `anon` names its memory when it is anonymous. */
export function mappingOf(args: Fields, config: ModelConfig, addr: bigint, memfd: number | null, anon: number): Mapping {
  const hugepage = args['hugepage'] === true;
  const length = roundUp(big(args, 'length'), mmapGranule(config, hugepage));
  const prot = typeof args['prot'] === 'bigint' ? args['prot'] : PROT_READ | PROT_WRITE;
  const offset = big(args, 'offset');
  const backing: Mapping['backing'] =
    memfd !== null
      ? { kind: 'memfd', file: memfd, offset }
      : typeof args['file'] === 'string'
        ? { kind: 'named', path: args['file'], offset }
        : { kind: 'anon', object: anon, offset: 0n };
  return { start: addr, last: addr + length - 1n, prot, shared: args['shared'] === true, hugepage, cow: false, backing };
}

/** The world with the calling process's address space replaced over `[start, last]`; its anonymous pages there go too. */
function withMm(call: Call, mm: Process['mm'], start: bigint, last: bigint): World {
  let anonPages = call.process.anonPages;
  for (const [va] of call.process.anonPages.entriesFrom(start)) {
    if (va > last) break;
    anonPages = anonPages.delete(va);
  }
  const process = revise(call.process, (d) => {
    d.mm = mm;
    d.anonPages = anonPages;
  });
  return revise(call.world, (d) => {
    d.processes = call.world.processes.set(process.pid, process);
  });
}

export function open(call: Call): Result {
  const fd = chooseFd(call.process, call.choices, 'fd');
  const { world } = call;
  const container = call.event.args?.fields['path'] === VFIO_CONTAINER_PATH;
  // iommufd_fops_open(): a VFIO container charges pins to mm->locked_vm, as VFIO does.
  const ctx = container ? { ...newContext(world.nextCtxId), accountMode: 'mm' as const } : newContext(world.nextCtxId);
  const next = revise(world, (d) => {
    d.nextCtxId = ctx.id + 1;
    d.contexts = world.contexts.set(ctx.id, ctx);
  });
  const file = { kind: 'iommufd' as const, ctx: ctx.id };
  return ok(installFile(next, call.process.pid, fd, container ? { ...file, container: true } : file), { fd: BigInt(fd) });
}

/** OPEN of anything but /dev/iommu or the VFIO container iommufd serves has no model yet. */
export const opensIommu = (args: Fields): boolean => {
  const path = args['path'] ?? IOMMU_PATH;
  return path === IOMMU_PATH || path === VFIO_CONTAINER_PATH;
};

export function close(call: Call): Result {
  const fd = Number(big(call.event.args?.fields ?? {}, 'fd'));
  if (!call.process.fds.has(fd)) return refuse(call, fail('EBADF', 'file_close_fd', 'the fd is not open'));
  return ok(closeFd(call.world, call.process.pid, fd));
}

export function mmap(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const { pageSize } = call.world.config;
  const length = big(args, 'length');
  // x86's sys_mmap() checks the offset, ksys_mmap_pgoff() looks the fd up, then do_mmap()
  // checks the length and whether the file can be mapped at all.
  if (big(args, 'offset') % pageSize !== 0n) return refuse(call, fail('EINVAL', 'sys_mmap', 'offset not page aligned'));
  const file = typeof args['fd'] === 'bigint' ? fileOf(call.world, call.process, Number(args['fd'])) : null;
  if (file === undefined) return refuse(call, fail('EBADF', 'ksys_mmap_pgoff', 'the fd is not open'));
  if (length === 0n) return refuse(call, fail('EINVAL', 'do_mmap', 'length is 0'));
  if (file !== null && file.kind !== 'memfd') return refuse(call, fail('ENODEV', 'do_mmap', 'the file has no mmap'));
  const memfd = file === null ? null : file.id;
  const { config } = call.world;
  const hugepage = args['hugepage'] === true;
  const align = mmapGranule(config, hugepage);
  const mm = call.process.mm;
  let addr: bigint;
  if (typeof args['addr'] === 'bigint') {
    addr = args['addr'];
    if (addr % align !== 0n) return refuse(call, fail('EINVAL', '__get_unmapped_area', 'addr not aligned to the mapping granule'));
  } else {
    const probe = mappingOf(args, config, 0n, memfd, 0);
    const size = probe.last + 1n;
    const recorded = call.choices.proposed('addr');
    if (typeof recorded === 'bigint' && recorded % align === 0n && isFree(mm, recorded, recorded + size - 1n)) {
      addr = recorded;
    } else {
      if (typeof recorded === 'bigint') call.choices.reject('addr', recorded, 'not aligned or overlaps a mapping');
      addr = lowestFreeAddress(mm, size, mmapChoiceAlign(config, hugepage));
    }
  }
  const mapping = mappingOf(args, config, addr, memfd, call.world.nextMemObject);
  const world = revise(withMm(call, mapUser(mm, mapping), mapping.start, mapping.last), (d) => {
    d.nextMemObject = call.world.nextMemObject + 1;
  });
  return ok(world, { addr });
}

export function munmap(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const addr = big(args, 'addr');
  const length = big(args, 'length');
  if (length === 0n || addr % call.world.config.pageSize !== 0n) {
    return refuse(call, fail('EINVAL', 'do_vmi_munmap', 'length is 0 or addr not page aligned'));
  }
  const last = addr + roundUp(length, call.world.config.pageSize) - 1n;
  return ok(withMm(call, unmapUser(call.process.mm, addr, last), addr, last));
}

export function memfdCreate(call: Call): Result {
  const fd = chooseFd(call.process, call.choices, 'fd');
  const hugetlb = call.event.args?.fields['hugetlb'] === true;
  return ok(installFile(call.world, call.process.pid, fd, { kind: 'memfd', size: 0n, hugetlb }), { fd: BigInt(fd) });
}

export function ftruncate(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const file = fileOf(call.world, call.process, Number(big(args, 'fd')));
  if (file === undefined) return refuse(call, fail('EBADF', 'do_sys_ftruncate', 'the fd is not open'));
  if (file.kind !== 'memfd') return refuse(call, fail('EINVAL', 'do_ftruncate', 'not a regular file'));
  const length = big(args, 'length');
  if (file.hugetlb && length % call.world.config.hugepageSize !== 0n) {
    return refuse(call, fail('EINVAL', 'hugetlbfs_setattr', 'length not hugepage aligned'));
  }
  return ok(
    revise(call.world, (d) => {
      d.files = call.world.files.set(file.id, { ...file, size: length });
    }),
  );
}
