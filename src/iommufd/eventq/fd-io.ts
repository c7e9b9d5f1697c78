/**
 * `FD_READ` and `FD_WRITE` (trace format "Environment"): `read()`/`write()` of typed records
 * on a FAULT or VEVENTQ fd. A file with no such handler refuses with EINVAL, as
 * `vfs_read()`/`vfs_write()` do for a file without `.read`/`.write` (a vEVENTQ has no write).
 */
import { putContext } from '../main/context.ts';
import type { Value } from '../../../events/types.ts';
import { type Call, type Result, big, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { readFault, writeFault } from './fault.ts';
import { fileOf } from '../../mm/files.ts';
import { mustGet, putObject } from '../main/object-refs.ts';
import { readVeventq } from './veventq.ts';
import type { Ctx, OpenFile } from '../../model/world.ts';

type Queue = { file: Extract<OpenFile, { kind: 'fault' | 'veventq' }>; ctx: Ctx };

/** The queue behind the fd; `vfs` is `vfs_read()` or `vfs_write()`, which refuse a file without the method. */
function queueOf(call: Call, vfs: 'vfs_read' | 'vfs_write'): Fail | Queue {
  const args = call.event.args?.fields ?? {};
  const file = fileOf(call.world, call.process, Number(big(args, 'fd')));
  if (file === undefined) return fail('EBADF', 'fdget_pos', 'the fd is not open in the process');
  if (file.kind !== 'fault' && file.kind !== 'veventq') return fail('EINVAL', vfs, 'not a FAULT or vEVENTQ fd');
  const ctx = call.world.contexts.get(file.ctx);
  if (ctx === undefined) throw new Error(`[iommufd-model] an event fd holds a released context`);
  return { file, ctx };
}

export function fdRead(call: Call): Result {
  const q = queueOf(call, 'vfs_read');
  if (q instanceof Fail) return refuse(call, q);
  const args = call.event.args?.fields ?? {};
  const count = typeof args['count'] === 'bigint' ? args['count'] : null;
  if (q.file.kind === 'fault') {
    const read = readFault(mustGet(q.ctx, q.file.object, 'fault'), count);
    if (read instanceof Fail) return refuse(call, read);
    return ok(putContext(call.world, putObject(q.ctx, read.fault)), { records: read.records });
  }
  const read = readVeventq(mustGet(q.ctx, q.file.object, 'veventq'), count);
  return ok(putContext(call.world, putObject(q.ctx, read.veventq)), { records: read.records });
}

export function fdWrite(call: Call): Result {
  const q = queueOf(call, 'vfs_write');
  if (q instanceof Fail) return refuse(call, q);
  if (q.file.kind !== 'fault') return refuse(call, fail('EINVAL', 'vfs_write', 'a vEVENTQ fd has no write'));
  const records = call.event.args?.fields['records'];
  const list: readonly Value[] = Array.isArray(records) ? records : [];
  // Every record is a whole `struct iommu_hwpt_page_response`: the count is never ESPIPE.
  const written = writeFault(mustGet(q.ctx, q.file.object, 'fault'), list);
  if (written instanceof Fail) return refuse(call, written);
  return ok(putContext(call.world, putObject(q.ctx, written)));
}
