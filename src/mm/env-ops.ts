/**
 * Environment events: what processes did around the ioctls (open, close, mmap, munmap,
 * memfd_create, ftruncate), modelled as far as iommufd can observe them.
 */
import type { Fields } from '../../events/types.ts';
import { clearRuns } from './anon-runs.ts';
import { USER_END, isFree, lowestFreeAddress, mapUser, mmapChoiceAlign, mmapGranule, unmapUser } from './address-space.ts';
import { type Call, Fail, type Result, big, ok, refuse } from '../model/command.ts';
import { newContext } from '../iommufd/main/context.ts';
import { fail } from '../model/fail.ts';
import { closeFd } from './file-release.ts';
import { chooseFd, fileOf, installFile } from './files.ts';
import { U64_MAX } from '../model/ranges.ts';
import { revise } from '../model/revise.ts';
import type { Mapping, ModelConfig, Process, World } from '../model/world.ts';
import { VFIO_CONTAINER_PATH, isVfioPath, openVfio, servedByVfio } from '../vfio/open.ts';
import { hasNode } from '../kernel/profile.ts';

const PROT_READ = 1n;
const PROT_WRITE = 2n;

export const IOMMU_PATH = '/dev/iommu';

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
  const anonPages = clearRuns(call.process.anonPages, start, last, call.world.config.pageSize);
  const process = revise(call.process, (d) => {
    d.mm = mm;
    d.anonPages = anonPages;
  });
  return revise(call.world, (d) => {
    d.processes = call.world.processes.set(process.pid, process);
  });
}

export function open(call: Call): Result {
  const path = call.event.args?.fields['path'] ?? IOMMU_PATH;
  if (typeof path === 'string' && servedByVfio(call.world, path)) return openVfio(call, path);
  const container = path === VFIO_CONTAINER_PATH;
  if (!hasNode(call.world.config.kernel, container ? 'iommufd-vfio-container' : 'iommufd')) {
    return refuse(call, fail('ENOENT', 'do_sys_open', 'no iommufd node before 6.2'));
  }
  const fd = chooseFd(call.process, call.choices, 'fd');
  const { world } = call;
  // iommufd_fops_open(): /dev/vfio/vfio served by iommufd charges pins to mm->locked_vm, as VFIO does.
  const ctx = container ? { ...newContext(world.nextCtxId), accountMode: 'mm' as const } : newContext(world.nextCtxId);
  const next = revise(world, (d) => {
    d.nextCtxId = ctx.id + 1;
    d.contexts = world.contexts.set(ctx.id, ctx);
  });
  const file = { kind: 'iommufd' as const, ctx: ctx.id };
  return ok(installFile(next, call.process.pid, fd, container ? { ...file, container: true } : file), { fd: BigInt(fd) });
}

/** OPEN of anything but /dev/iommu, /dev/vfio/vfio or a VFIO group node has no model yet. */
export const opensIommu = (args: Fields): boolean => {
  const path = args['path'] ?? IOMMU_PATH;
  return path === IOMMU_PATH || (typeof path === 'string' && isVfioPath(path));
};

export function close(call: Call): Result {
  const fd = Number(big(call.event.args?.fields ?? {}, 'fd'));
  if (!call.process.fds.has(fd)) return refuse(call, fail('EBADF', 'file_close_fd', 'the fd is not open'));
  return ok(closeFd(call.world, call.process.pid, fd));
}

/**
 * Where an MMAP of `size` bytes goes: its fixed `addr`, checked, or the address this model
 * picks (the recorded one when it is legal). The model has no TASK_SIZE below 2^64, so the
 * kernel's `addr > TASK_SIZE - len` (`__get_unmapped_area()`, ENOMEM) refuses exactly the
 * ranges that wrap past 2^64. For a fixed address the arch's get_area takes it as it is, so
 * that range check comes before the alignment check (EINVAL); `hugetlb_get_unmapped_area()`
 * checks the alignment itself, first.
 */
function chooseAddr(call: Call, size: bigint, hugepage: boolean): bigint | Fail {
  const args = call.event.args?.fields ?? {};
  const align = mmapGranule(call.world.config, hugepage);
  const fits = (at: bigint): boolean => at + size <= USER_END;
  const given = args['addr'];
  if (typeof given === 'bigint') {
    const wraps = fail('ENOMEM', '__get_unmapped_area', 'addr + length wraps past 2^64');
    if (!hugepage && !fits(given)) return wraps;
    if (given % align !== 0n) return fail('EINVAL', '__get_unmapped_area', 'addr not aligned to the mapping granule');
    return fits(given) ? given : wraps;
  }
  const mm = call.process.mm;
  const recorded = call.choices.proposed('addr');
  if (typeof recorded === 'bigint') {
    if (!fits(recorded)) call.choices.reject('addr', recorded, 'wraps past 2^64');
    else if (recorded % align === 0n && isFree(mm, recorded, recorded + size - 1n)) return recorded;
    else call.choices.reject('addr', recorded, 'not aligned or overlaps a mapping');
  }
  const chosen = lowestFreeAddress(mm, size, mmapChoiceAlign(call.world.config, hugepage));
  return fits(chosen) ? chosen : fail('ENOMEM', 'vm_unmapped_area', 'no free range that long');
}

export function mmap(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const { config } = call.world;
  const length = big(args, 'length');
  // x86's sys_mmap() checks the offset, ksys_mmap_pgoff() looks the fd up, then do_mmap()
  // checks the length and whether the file can be mapped at all.
  if (big(args, 'offset') % config.pageSize !== 0n) return refuse(call, fail('EINVAL', 'sys_mmap', 'offset not page aligned'));
  const file = typeof args['fd'] === 'bigint' ? fileOf(call.world, call.process, Number(args['fd'])) : null;
  if (file === undefined) return refuse(call, fail('EBADF', 'ksys_mmap_pgoff', 'the fd is not open'));
  if (length === 0n) return refuse(call, fail('EINVAL', 'do_mmap', 'length is 0'));
  const hugepage = args['hugepage'] === true;
  // do_mmap(): a length whose PAGE_ALIGN() wraps to 0 is ENOMEM. A huge page length is
  // aligned before, in ksys_mmap_pgoff(), and do_mmap() then sees a length of 0 (EINVAL).
  const size = roundUp(length, mmapGranule(config, hugepage));
  if (size > U64_MAX) return refuse(call, hugepage ? fail('EINVAL', 'do_mmap', 'length aligns up to 0') : fail('ENOMEM', 'do_mmap', 'length aligns up to 0'));
  if (file !== null && file.kind !== 'memfd') return refuse(call, fail('ENODEV', 'do_mmap', 'the file has no mmap'));
  const addr = chooseAddr(call, size, hugepage);
  if (addr instanceof Fail) return refuse(call, addr);
  const mapping = mappingOf(args, config, addr, file === null ? null : file.id, call.world.nextMemObject);
  const world = revise(withMm(call, mapUser(call.process.mm, mapping), mapping.start, mapping.last), (d) => {
    d.nextMemObject = call.world.nextMemObject + 1;
  });
  return ok(world, { addr });
}

/** `munmap()`; `do_vmi_munmap()` refuses a range past the end of the address space (here 2^64) or one whose length aligns up to 0. */
export function munmap(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const addr = big(args, 'addr');
  const length = big(args, 'length');
  const size = roundUp(length, call.world.config.pageSize);
  if (length === 0n || addr % call.world.config.pageSize !== 0n) {
    return refuse(call, fail('EINVAL', 'do_vmi_munmap', 'length is 0 or addr not page aligned'));
  }
  if (addr + length > USER_END || size > U64_MAX) return refuse(call, fail('EINVAL', 'do_vmi_munmap', 'the range wraps past 2^64'));
  const last = addr + size - 1n;
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
