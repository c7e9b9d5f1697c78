/**
 * vEVENTQs (eventq.c, driver.c, spec §3.20): `IOMMU_VEVENTQ_ALLOC`, the mock's
 * `TEST_TRIGGER_VEVENT` reporting a device's virtual id, and reading the queue's fd. A full
 * queue takes a single "lost events" header at its tail instead; every record gets the next
 * sequence number, which wraps from INT_MAX to 0.
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { initialRecord } from '../../../machines/adapter.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { openEventqFile } from './eventq.ts';
import { Fail, fail } from '../../model/fail.ts';
import { IOMMU_VEVENTQ_TYPE_SELFTEST } from '../selftest/mock.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, dropObject, lookup, putObject } from '../main/object-refs.ts';
import type { Ctx, Vevent, Veventq } from '../../model/world.ts';

export const IOMMU_VEVENTQ_FLAG_LOST_EVENTS = 1n;
const INT_MAX = 0x7fffffffn;
/** `struct iommufd_vevent_header` and the mock's payload, `struct iommu_viommu_event_selftest`. */
const HEADER_SIZE = 8n;
const SELFTEST_EVENT_SIZE = 4n;

function veventqOf(ctx: Ctx, viommu: number, type: bigint): Veventq | undefined {
  for (const obj of ctx.objects.values()) {
    if (obj.type === 'veventq' && obj.viommu === viommu && obj.veventqType === type) return obj;
  }
  return undefined;
}

/** `iommufd_veventq_alloc()`: one queue per type per vIOMMU; the object id first, then the fd. */
export function veventqAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  const type = big(cmd, 'type');
  if (big(cmd, 'flags') !== 0n || big(cmd, '__reserved') !== 0n || type === 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_veventq_alloc', 'flags or __reserved set, or default type'));
  }
  const depth = big(cmd, 'veventq_depth');
  if (depth === 0n) return refuse(call, fail('EINVAL', 'iommufd_veventq_alloc', 'veventq_depth is 0'));
  const viommu = lookup(ctx, num(cmd, 'viommu_id'), 'viommu');
  if (viommu instanceof Fail) return refuse(call, viommu);
  if (veventqOf(ctx, viommu.id, type) !== undefined) {
    return refuse(call, fail('EEXIST', 'iommufd_veventq_alloc', 'the vIOMMU has a queue of this type'));
  }
  const id = allocId(ctx.objects, call.choices, 'out_veventq_id');
  if (id instanceof Fail) return refuse(call, id);
  const veventq: Veventq = {
    type: 'veventq',
    id,
    lifecycle: initialRecord(objectMachine, { users: 2 }),
    viommu: viommu.id,
    veventqType: type,
    depth,
    events: [],
    numEvents: 0n,
    sequence: 0n,
  };
  const next = adjustUsers(putObject(ctx, veventq), viommu.id, 'USER_GET');
  const opened = openEventqFile(call, next, 'veventq', id, 'out_veventq_fd');
  return ok(opened.world, { out_veventq_id: BigInt(id), out_veventq_fd: BigInt(opened.fd) });
}

/** `iommufd_veventq_destroy()`: queued events go, the vIOMMU loses the queue's reference. */
export function destroyVeventq(ctx: Ctx, veventq: Veventq): Ctx {
  return adjustUsers(dropObject(ctx, veventq.id), veventq.viommu, 'USER_PUT');
}

/**
 * `iommufd_viommu_report_event()` + `iommufd_vevent_handler()`: a trailing lost-events header
 * is replaced by the new record, which is the header again while the queue is full.
 */
function report(veventq: Veventq, virtId: bigint): Veventq {
  const kept = veventq.events.filter((e, i) => !(e.lost && i === veventq.events.length - 1));
  const full = veventq.numEvents === veventq.depth;
  const record: Vevent = full ? { lost: true, sequence: veventq.sequence } : { lost: false, sequence: veventq.sequence, virtId };
  return {
    ...veventq,
    events: [...kept, record],
    numEvents: full ? veventq.numEvents : veventq.numEvents + 1n,
    sequence: (veventq.sequence + 1n) & INT_MAX,
  };
}

/**
 * `iommufd_test_trigger_vevent()`: the device's RID must be on a vIOMMU-owned nested domain
 * with a non-zero virtual id (ENOENT), and the vIOMMU must have a SELFTEST queue (EOPNOTSUPP).
 */
export function triggerVevent(call: Call, ctx: Ctx, cmd: Fields): Result {
  const dev = lookup(ctx, num(cmd, 'dev_id'), 'device');
  if (dev instanceof Fail) return refuse(call, dev);
  if (dev.mockViommu === null || dev.mockViommu.virtId === 0n) {
    return refuse(call, fail('ENOENT', 'iommufd_test_trigger_vevent', 'the device has no vIOMMU or virtual id'));
  }
  const veventq = veventqOf(ctx, dev.mockViommu.viommu, IOMMU_VEVENTQ_TYPE_SELFTEST);
  if (veventq === undefined) return refuse(call, fail('EOPNOTSUPP', 'iommufd_viommu_report_event', 'no vEVENTQ of this type'));
  return ok(putContext(call.world, putObject(ctx, report(veventq, dev.mockViommu.virtId))));
}

const sizeOf = (e: Vevent): bigint => HEADER_SIZE + (e.lost ? 0n : SELFTEST_EVENT_SIZE);

/**
 * `iommufd_veventq_fops_read()`: records while they fit in `count` (default: everything
 * queued); a record that does not fit stays queued.
 */
export function readVeventq(veventq: Veventq, count: bigint | null): { veventq: Veventq; records: Fields[] } {
  const want = count ?? veventq.events.reduce((n, e) => n + sizeOf(e), 0n);
  let done = 0n;
  let taken = 0;
  let numEvents = veventq.numEvents;
  const records: Fields[] = [];
  for (const e of veventq.events) {
    if (done >= want || sizeOf(e) > want - done) break;
    records.push(
      e.lost
        ? { flags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS, sequence: e.sequence }
        : { flags: 0n, sequence: e.sequence, virt_id: e.virtId },
    );
    if (!e.lost) numEvents--;
    done += sizeOf(e);
    taken++;
  }
  return { veventq: { ...veventq, events: veventq.events.slice(taken), numEvents }, records };
}
