/**
 * Process events: fork and exit, credentials and limits, CPU touches of memory, and the
 * `CHECK` of accounting counters (VmLck, VmPin, the uid's locked_vm).
 */
import type { Fields } from '../events/types.ts';
import { type Call, type Result, big, ok, refuse } from './command.ts';
import { fail } from './fail.ts';
import { closeFd } from './files.ts';
import { mutated } from './mutants.ts';
import { pinsOn } from './pages.ts';
import { pageAt } from './physical.ts';
import { intersecting } from './ranges.ts';
import { revise } from './revise.ts';
import type { Mapping, Process, World } from './world.ts';

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

const copyOf = (pid: number, va: bigint): string => `copy:${pid}:${va.toString(16)}`;

/** Private mappings become copy-on-write: their pages are shared until a write. */
const cowMappings = (mm: Process['mm']): Process['mm'] => {
  let out = mm;
  for (const m of mm.values()) if (!m.shared && !m.cow) out = out.set(m.start, { ...m, cow: true });
  return out;
};

/**
 * `fork()`: the child gets every fd under the same number (one more reference on each file),
 * shared mappings stay shared and private ones become copy-on-write in both processes. An
 * anonymous page pinned for DMA is copied for the child at fork (`page_needs_cow_for_dma()`),
 * so the pin stays with the parent's page.
 */
export function fork(call: Call): Result {
  const parent = call.process;
  const pid = choosePid(call);
  const world = call.world;
  const { pageSize } = world.config;
  let files = world.files;
  for (const id of parent.fds.values()) {
    const file = files.get(id);
    if (file !== undefined) files = files.set(id, { ...file, refs: file.refs + 1 });
  }
  let copies = parent.copies;
  for (const m of parent.mm.values()) {
    if (m.shared || m.backing.kind !== 'anon') continue;
    for (let va = m.start; va <= m.last; va += pageSize) {
      const page = pageAt(world, parent, va);
      if (page !== null && !copies.has(va) && pinsOn(world, page.obj, page.index) > 0n) copies = copies.set(va, copyOf(pid, va));
    }
  }
  const inherit = mutated('fork-copies-counters');
  const child: Process = {
    ...parent,
    pid,
    mm: cowMappings(parent.mm),
    copies,
    lockedVm: inherit ? parent.lockedVm : 0n,
    pinnedVm: inherit ? parent.pinnedVm : 0n,
  };
  return ok(
    revise(world, (d) => {
      d.files = files;
      d.lastPid = Math.max(pid, world.lastPid);
      d.processes = world.processes.set(parent.pid, { ...parent, mm: cowMappings(parent.mm) }).set(pid, child);
    }),
    { pid: BigInt(pid) },
  );
}

/** `exit()`: every fd is closed, lowest first, and the address space goes; the counters with it. */
export function exit(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const pid = typeof args['pid'] === 'bigint' ? Number(args['pid']) : call.process.pid;
  const process = call.world.processes.get(pid);
  if (process === undefined) return refuse(call, fail('ESRCH'));
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

function mappingAt(process: Process, va: bigint): Mapping | null {
  return intersecting(process.mm, va, va).next().value ?? null;
}

/**
 * A CPU access to `[addr, addr + length)`: every page must be mapped with the access's
 * protection (a fault is reported as EFAULT). A write to a private file page, or to a private
 * page still shared copy-on-write, gives this process its own copy; an anonymous page pinned
 * for DMA is exclusive to its process and is written in place.
 */
export function touch(call: Call): Result {
  const args = call.event.args?.fields ?? {};
  const { pageSize } = call.world.config;
  const addr = big(args, 'addr');
  const length = big(args, 'length');
  const write = args['write'] === true;
  let copies = call.process.copies;
  for (let va = addr - (addr % pageSize); va < addr + length; va += pageSize) {
    const m = mappingAt(call.process, va);
    if (m === null) {
      if (call.world.config.memory === 'any') continue;
      return refuse(call, fail('EFAULT'));
    }
    if (!write || m.shared || copies.has(va)) continue;
    if ((m.prot & PROT_WRITE) === 0n) return refuse(call, fail('EFAULT'));
    const fileBacked = m.backing.kind !== 'anon';
    if (!fileBacked && !m.cow) continue;
    const page = pageAt(call.world, call.process, va);
    const pinned = page !== null && !fileBacked && pinsOn(call.world, page.obj, page.index) > 0n;
    if (!pinned) copies = copies.set(va, copyOf(call.process.pid, va));
  }
  return ok(copies === call.process.copies ? call.world : withProcess(call.world, { ...call.process, copies }));
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
  if (process === undefined) return refuse(call, fail('ESRCH'));
  return ok(call.world, { value: (what === 'pinned_vm' ? process.pinnedVm : process.lockedVm) * pageSize });
}
