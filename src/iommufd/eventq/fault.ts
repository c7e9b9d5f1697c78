/**
 * FAULT objects and their fds (eventq.c, spec §3.16): `IOMMU_FAULT_QUEUE_ALLOC`, the page
 * requests a HWPT allocated with a fault id queues there (`TEST_TRIGGER_IOPF` injects them),
 * and the fd's read (fault records, each read group getting a cookie from 1) and write (page
 * responses naming those cookies).
 */
import { putContext } from '../main/context.ts';
import type { Fields, Value } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { groupHwpt, groupOf, handleOf, hwptOf } from '../device/group.ts';
import { openEventqFile } from './eventq.ts';
import { Fail, fail } from '../../model/fail.ts';
import { allocId } from '../main/object-table.ts';
import { dropObject, lookup, mustGet, putObject } from '../main/object-refs.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Device, Fault, FaultGroup } from '../../model/world.ts';

/** `sizeof(struct iommu_hwpt_pgfault)`. */
export const FAULT_RECORD_SIZE = 40n;
export const IOMMU_PGFAULT_FLAGS_PASID_VALID = 1n;
export const IOMMU_PGFAULT_FLAGS_LAST_PAGE = 2n;
const IOMMUFD_PAGE_RESP_SUCCESS = 0n;
const IOMMUFD_PAGE_RESP_INVALID = 1n;

/** `iommufd_fault_alloc()`: the object id first, then the fd. */
export function faultAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, 'flags') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_fault_alloc', 'flags is not zero'));
  const id = allocId(ctx.objects, call.choices, 'out_fault_id');
  if (id instanceof Fail) return refuse(call, id);
  const fault: Fault = {
    type: 'fault',
    id,
    lifecycle: initialRecord(objectMachine, { users: 2 }),
    deliver: [],
    response: OrderedMap.empty(),
  };
  const opened = openEventqFile(call, putObject(ctx, fault), 'fault', id, 'out_fault_fd');
  return ok(opened.world, { out_fault_id: BigInt(id), out_fault_fd: BigInt(opened.fd) });
}

/**
 * `iommufd_auto_response_faults()`: the groups of `handle` queued or awaiting a response on the
 * FAULT are answered INVALID and dropped.
 */
export function autoRespond(ctx: Ctx, faultId: number | null, handle: string): Ctx {
  if (faultId === null) return ctx;
  const fault = mustGet(ctx, faultId, 'fault');
  let response = fault.response;
  for (const [cookie, g] of fault.response) if (g.handle === handle) response = response.delete(cookie);
  const deliver = fault.deliver.filter((g) => g.handle !== handle);
  if (deliver.length === fault.deliver.length && response === fault.response) return ctx;
  return putObject(ctx, { ...fault, deliver, response });
}

/**
 * `iommufd_test_trigger_iopf()` → `iommu_report_device_fault()`: a single last-page request.
 * It reaches a FAULT only through an attach handle whose HWPT has one: the PASID's, else (the
 * mock keeps a user PASID table) the RID's when that is a nested HWPT; otherwise the IOMMU
 * core answers it and nothing is queued. The ioctl succeeds either way.
 */
export function triggerIopf(call: Call, ctx: Ctx, cmd: Fields): Result {
  const dev = lookup(ctx, num(cmd, 'dev_id'), 'device');
  if (dev instanceof Fail) return refuse(call, dev);
  const pasid = num(cmd, 'pasid');
  const group = groupOf(ctx, dev);
  let target = attachedAt(group, pasid);
  if (target === null && pasid !== 0 && dev.model.kind === 'mock') {
    const rid = attachedAt(group, 0);
    target = rid !== null && hwptOf(ctx, rid.hwpt).type === 'hwpt_nested' ? rid : null;
  }
  const faultId = target === null ? null : hwptOf(ctx, target.hwpt).fault;
  if (target === null || faultId === null) return ok(call.world);
  const g: FaultGroup = {
    handle: target.handle.key,
    device: target.handle.device,
    flags: IOMMU_PGFAULT_FLAGS_LAST_PAGE | (pasid === 0 ? 0n : IOMMU_PGFAULT_FLAGS_PASID_VALID),
    pasid: BigInt(pasid),
    grpid: big(cmd, 'grpid'),
    perm: big(cmd, 'perm'),
    addr: big(cmd, 'addr'),
  };
  const fault = mustGet(ctx, faultId, 'fault');
  return ok(putContext(call.world, putObject(ctx, { ...fault, deliver: [...fault.deliver, g] })));
}

/** The group's attachment at `pasid` and the handle it was made through. */
function attachedAt(group: readonly Device[], pasid: number): { hwpt: number; handle: { key: string; device: number } } | null {
  const hwpt = groupHwpt(group, pasid);
  const handle = handleOf(group, pasid);
  return hwpt === undefined || handle === null ? null : { hwpt, handle };
}

/** The lowest free cookie from 1 (`xa_alloc()` with XA_FLAGS_ALLOC1). */
function freeCookie(response: OrderedMap<number, FaultGroup>): number {
  let expected = 1;
  for (const c of response.keys()) {
    if (c !== expected) return expected;
    expected++;
  }
  return expected;
}

/**
 * `iommufd_fault_fops_read()`: whole groups while they fit in `count` (default: everything
 * queued); `count` not a multiple of the record size is ESPIPE.
 */
export function readFault(fault: Fault, count: bigint | null): Fail | { fault: Fault; records: Fields[] } {
  const want = count ?? BigInt(fault.deliver.length) * FAULT_RECORD_SIZE;
  if (want % FAULT_RECORD_SIZE !== 0n) return fail('ESPIPE', 'iommufd_fault_fops_read', 'count not a multiple of the record size');
  let done = 0n;
  let response = fault.response;
  const records: Fields[] = [];
  let taken = 0;
  for (const g of fault.deliver) {
    if (done >= want || FAULT_RECORD_SIZE > want - done) break;
    const cookie = freeCookie(response);
    response = response.set(cookie, g);
    records.push({
      flags: g.flags,
      dev_id: BigInt(g.device),
      pasid: g.pasid,
      grpid: g.grpid,
      perm: g.perm,
      addr: g.addr,
      length: 0n,
      cookie: BigInt(cookie),
    });
    done += FAULT_RECORD_SIZE;
    taken++;
  }
  return { fault: { ...fault, deliver: fault.deliver.slice(taken), response }, records };
}

/**
 * `iommufd_fault_fops_write()`: responses in order; a bad code or an unknown cookie stops the
 * loop with EINVAL, which is the result only if nothing was consumed before it.
 */
export function writeFault(fault: Fault, records: readonly Value[]): Fail | Fault {
  let response = fault.response;
  let consumed = 0;
  let error: Fail | null = null;
  for (const r of records) {
    const rec = (r ?? {}) as Fields;
    const code = big(rec, 'code');
    if (code !== IOMMUFD_PAGE_RESP_SUCCESS && code !== IOMMUFD_PAGE_RESP_INVALID) {
      error = fail('EINVAL', 'iommufd_fault_fops_write', 'code is not SUCCESS or INVALID');
      break;
    }
    const cookie = num(rec, 'cookie');
    if (!response.has(cookie)) {
      error = fail('EINVAL', 'iommufd_fault_fops_write', 'no fault group with this cookie');
      break;
    }
    response = response.delete(cookie);
    consumed++;
  }
  if (consumed === 0 && error !== null) return error;
  return revise(fault, (d) => {
    d.response = response;
  });
}

/** `iommufd_fault_destroy()`: every pending group is answered INVALID; the object goes. */
export function destroyFault(ctx: Ctx, fault: Fault): Ctx {
  return dropObject(ctx, fault.id);
}
