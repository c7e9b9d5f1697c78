/**
 * Process events: fork and exit, credentials and limits, CPU touches of memory, and the
 * `CHECK` of accounting counters (VmLck, VmPin, the uid's locked_vm).
 */
import type { Fields } from '../../events/types.ts';
import { type Call, type Result, big, ok, refuse } from '../model/command.ts';
import { putRun, sliceRun } from './anon-runs.ts';
import { ownCopy, stretches, writePrivate } from './cow.ts';
import { fail } from '../model/fail.ts';
import { closeFd } from './file-release.ts';
import { pinCounts } from './pin-counts.ts';
import { stretchPages } from './physical.ts';
import { intersecting } from '../model/ranges.ts';
import { revise } from '../model/revise.ts';
import type { Process, World } from '../model/world.ts';

const PROT_WRITE = 2n;

/** The pid `FORK` gives: the recorded one when it is free, else one above the highest so far. */
function choosePid(call: Call): number {
  const recorded = call.choices.proposed('pid');
  if (typeof recorded === 'bigint') {
    if (recorded >= 1n && recorded < 2n ** 31n && !call.world.processes.has(Number(recorded))) return Number(recorded);
    call.choices.reject('pid', recorded, 'pid in use or out of range');
  }
  return call.world.lastPid + 1;
}

/** Private mappings become copy-on-write: their pages are shared until a write. */
const cowMappings = (mm: Process['mm']): Process['mm'] => {
  let out = mm;
  for (const m of mm.values()) if (!m.shared && !m.cow) out = out.set(m.start, { ...m, cow: true });
  return out;
};

/**
 * The anonymous pages after `fork()` (`copy_present_pte()`): each is shared with the child and
 * exclusive to neither, but a pinned one stays the parent's alone and the child gets a copy
 * (`folio_try_dup_anon_rmap_pte()` refuses a maybe-pinned exclusive page), so the pin keeps
 * seeing what the parent maps. The private pages that can be anonymous are all of an
 * anonymous mapping's, and the copies in a file mapping.
 */
function forkAnonPages(world: World, parent: Process, child: number): { parent: Process['anonPages']; child: Process['anonPages'] } {
  const { pageSize } = world.config;
  const pinsOn = pinCounts(world);
  let mine = parent.anonPages;
  let theirs = parent.anonPages;
  for (const m of parent.mm.values()) {
    if (m.shared) continue;
    for (const s of stretches(parent, m.start, m.last, pageSize)) {
      if (s.own === null && m.backing.kind !== 'anon') continue;
      const page = stretchPages(world, m, s);
      for (const p of pinsOn(page.obj, page.index, page.count)) {
        const start = s.start + (p.index - page.index) * pageSize;
        const last = start + p.count * pageSize - 1n;
        if (p.pins > 0n) {
          mine = putRun(mine, { start, last, obj: page.obj, index: p.index, compound: page.compound, exclusive: true }, pageSize);
          theirs = putRun(theirs, ownCopy(world.nextMemObject, child, start, last, pageSize), pageSize);
        } else if (s.own?.exclusive === true) {
          const shared = { ...sliceRun(s.own, start, last, pageSize), exclusive: false };
          mine = putRun(mine, shared, pageSize);
          theirs = putRun(theirs, shared, pageSize);
        }
      }
    }
  }
  return { parent: mine, child: theirs };
}

/**
 * `fork()`: the child gets every fd under the same number (one more reference on each file),
 * shared mappings stay shared and private ones become copy-on-write in both processes.
 */
export function fork(call: Call): Result {
  const parent = call.process;
  const pid = choosePid(call);
  const world = call.world;
  let files = world.files;
  for (const id of parent.fds.values()) {
    const file = files.get(id);
    if (file !== undefined) files = files.set(id, { ...file, refs: file.refs + 1 });
  }
  const anonPages = forkAnonPages(world, parent, pid);
  const inherit = world.config.bugs.has('fork-copies-counters');
  const mm = cowMappings(parent.mm);
  const child: Process = {
    ...parent,
    pid,
    mm,
    anonPages: anonPages.child,
    lockedVm: inherit ? parent.lockedVm : 0n,
    pinnedVm: inherit ? parent.pinnedVm : 0n,
  };
  return ok(
    revise(world, (d) => {
      d.files = files;
      d.lastPid = Math.max(pid, world.lastPid);
      d.nextMemObject = world.nextMemObject + 1;
      d.processes = world.processes.set(parent.pid, { ...parent, mm, anonPages: anonPages.parent }).set(pid, child);
    }),
    { pid: BigInt(pid) },
  );
}

/** `exit()`: every fd is closed, lowest first, and the address space goes; the counters with it. */
export function exit(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const pid = typeof args['pid'] === 'bigint' ? Number(args['pid']) : call.process.pid;
  const process = call.world.processes.get(pid);
  if (process === undefined) return refuse(call, fail('ESRCH', 'find_task_by_vpid', 'the pid names no live process'));
  let world = call.world;
  for (const fd of [...process.fds.keys()]) world = closeFd(world, pid, fd);
  const closed = world;
  return ok(
    revise(closed, (d) => {
      d.processes = closed.processes.delete(pid);
    }),
  );
}

function withProcess(world: World, process: Process): World {
  return revise(world, (d) => {
    d.processes = world.processes.set(process.pid, process);
  });
}

export function setCaps(call: Call): Result {
  const caps = (call.event.args?.fields['caps'] ?? []) as readonly string[];
  return ok(withProcess(call.world, { ...call.process, caps: [...caps] }));
}

export function setRlimit(call: Call): Result {
  const limit = call.event.args?.fields['rlimit_memlock'];
  return ok(withProcess(call.world, { ...call.process, rlimitMemlock: typeof limit === 'bigint' ? limit : null }));
}

/**
 * A CPU access to `[addr, addr + length)`: every page must be mapped, and for a write writable
 * (a fault is reported as EFAULT, for the lowest page that faults). A write to a private page
 * this process does not have to itself gives it its own copy (`do_wp_page()`); shared pages
 * and exclusive ones are written in place.
 */
export function touch(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const { world, process } = call;
  const { pageSize } = world.config;
  const addr = big(args, 'addr');
  const end = addr + big(args, 'length');
  const write = args['write'] === true;
  const first = addr - (addr % pageSize);
  if (end <= first) return ok(world);
  const last = end - 1n - ((end - 1n) % pageSize) + pageSize - 1n;
  const declared = world.config.memory !== 'any';
  let anonPages = process.anonPages;
  let next = first;
  for (const m of intersecting(process.mm, first, last)) {
    if (m.start > next && declared) return refuse(call, fail('EFAULT', 'do_user_addr_fault', 'no mapping at the address'));
    next = m.last + 1n;
    if (!write) continue;
    if ((m.prot & PROT_WRITE) === 0n) return refuse(call, fail('EFAULT', 'access_error', 'write to a read-only mapping'));
    if (!m.shared) anonPages = writePrivate(anonPages, process, m, m.start > first ? m.start : first, m.last < last ? m.last : last, world.nextMemObject, pageSize);
  }
  if (next <= last && declared) return refuse(call, fail('EFAULT', 'do_user_addr_fault', 'no mapping at the address'));
  if (anonPages === process.anonPages) return ok(world);
  return ok(
    revise(withProcess(world, { ...process, anonPages }), (d) => {
      d.nextMemObject = world.nextMemObject + 1;
    }),
  );
}

/** `CHECK`: the counter it names, in bytes; a process that has exited has none (ESRCH). */
export function check(call: Call): Result {
  const args: Fields = call.event.args?.fields ?? {};
  const { pageSize } = call.world.config;
  const what = args['what'];
  if (what === 'user_locked_vm') {
    const uid = typeof args['uid'] === 'bigint' ? Number(args['uid']) : call.process.uid;
    return ok(call.world, { value: (call.world.userLockedVm.get(uid) ?? 0n) * pageSize });
  }
  const pid = typeof args['pid'] === 'bigint' ? Number(args['pid']) : call.process.pid;
  const process = call.world.processes.get(pid);
  if (process === undefined) return refuse(call, fail('ESRCH', 'find_task_by_vpid', 'the pid names no live process'));
  return ok(call.world, { value: (what === 'pinned_vm' ? process.pinnedVm : process.lockedVm) * pageSize });
}
