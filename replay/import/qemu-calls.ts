/**
 * The ioctls a QEMU log shows, one per call however many lines QEMU spends on it: a backend's
 * trace event with its raw return, the `... failed: <strerror>` the issuing function prints,
 * and the `vfio_..._dma_map(...) = -N (<strerror>)` its caller prints. The errno is the
 * caller's number, else the text's; a failure neither gives is `*`.
 *
 * Events QEMU logs twice for one ioctl are one call: `iommufd_cdev_alloc_ioas` beside the
 * backend's `iommufd_backend_alloc_ioas`, and a memory listener's `region_add`/`region_del`
 * beside the iommufd backend's map or unmap. Attach events print the `pt_id` passed in, not the
 * one written back, so they expect success only.
 */
import type { QemuFact } from './qemu-messages.ts';
import { errnoOfReturn, errnoOfText } from './strerror.ts';
import { hex } from '../../events/value-writer.ts';

type Json = { [key: string]: unknown };

/** Where a call is issued: an fd the log prints, a QEMU container by its pointer, or a device by name. */
export type Target =
  | { readonly kind: 'fd'; readonly fd: number }
  /** The iommufd the log's backend opened (`iommufd=` of its lines). */
  | { readonly kind: 'backend' }
  /** No fd: a system call of the process (`open()`). */
  | { readonly kind: 'process' }
  /** `null`: the container the log's other lines use (QEMU's `VFIOContainer *`, or util/vfio-helpers' own). */
  | { readonly kind: 'container'; readonly container: string | null }
  | { readonly kind: 'device'; readonly name: string };

export interface QemuCall {
  /** The capture line the call is read from. */
  readonly line: number;
  /** Where it goes in the trace: its line, or the line of the call it follows in QEMU's code. */
  at: number;
  readonly op: string;
  readonly target: Target;
  args: Json;
  /** Arguments the log does not show: `true` for all of them. */
  unknown?: true | string[];
  oneOf?: Json;
  /** `undefined`: the log records no result. */
  result?: { readonly errno?: string; readonly out?: Json };
  /** Still reading the lines QEMU prints after a failure: the issuer's text, then the caller's numbers. */
  open: 'text' | 'caller' | null;
  note?: string;
  /** `result` is not on the log's lines but inferred, the free choices a later line names. */
  inferred?: true;
}

/** A call that failed: `*` until a line gives its errno. */
const failure = (call: QemuCall, errno: string | undefined): void => {
  call.result = { errno: errno ?? call.result?.errno ?? '*' };
};

/**
 * The flags QEMU gives a map of guest memory (`vfio_legacy_dma_map()`,
 * `iommufd_backend_map_dma()`): the write bit unless the section is read-only. Only the
 * iommufd backend's trace event prints `readonly`; elsewhere the flags are one of two, writable
 * (guest RAM, the usual case) first.
 */
export const IOAS_MAP_FLAGS = (readonly: boolean): string[] => (readonly ? ['FIXED_IOVA', 'READABLE'] : ['FIXED_IOVA', 'READABLE', 'WRITEABLE']);
export const IOAS_MAP_FLAGS_ONE_OF = [IOAS_MAP_FLAGS(false), IOAS_MAP_FLAGS(true)];
export const LEGACY_MAP_FLAGS = [['READ', 'WRITE'], ['READ']];


/** Joins facts into calls as they come, line by line. */
export class CallJoiner {
  readonly calls: QemuCall[] = [];

  constructor(private readonly backend: 'iommufd' | 'legacy') {}

  private last(): QemuCall | undefined {
    return this.calls[this.calls.length - 1];
  }

  /** The open call a later line may complete: the last one, if still reading. */
  private pending(ops: readonly string[]): QemuCall | undefined {
    const call = this.last();
    return call !== undefined && call.open !== null && ops.includes(call.op) ? call : undefined;
  }

  add(call: Omit<QemuCall, 'at' | 'open'> & { open?: QemuCall['open'] }): QemuCall {
    this.close();
    const made: QemuCall = { ...call, at: call.line, open: call.open ?? null };
    this.calls.push(made);
    return made;
  }

  /** Lines QEMU prints after a call end here (a blank line, the next call). */
  close(): void {
    const call = this.last();
    if (call !== undefined) call.open = null;
  }

  /** A message's facts, in the order the message gives them. */
  fact(fact: QemuFact, line: number): void {
    switch (fact.kind) {
      case 'failed':
        return this.failed(fact, line);
      case 'dma':
        return this.dma(fact, line);
      case 'qemu-vfio-map':
        // util/vfio-helpers.c, qemu_vfio_do_mapping(): its own container, READ | WRITE, an IOVA of its allocator's that it does not print.
        this.add({
          line,
          op: 'VFIO_IOMMU_MAP_DMA',
          target: { kind: 'container', container: 'qemu_vfio' },
          args: { flags: ['READ', 'WRITE'], vaddr: hex(fact.host), size: hex(fact.size) },
          unknown: ['iova'],
          open: 'text',
        });
        return;
      default:
        return;
    }
  }

  private failed(fact: Extract<QemuFact, { kind: 'failed' }>, line: number): void {
    const errno = errnoOfText(fact.text);
    const pending = this.pending(fact.op === 'IOAS_MAP' ? ['IOAS_MAP', 'IOAS_MAP_FILE'] : [fact.op]);
    if (pending !== undefined && pending.open === 'text' && (fact.id === undefined || pending.args['id'] === Number(fact.id))) {
      // A trace line that printed the errno itself (`ret ? errno : 0`) keeps it.
      if (pending.result?.errno === undefined || pending.result.errno === '*') failure(pending, errno);
      // The helpers' maps have no caller line; a container map's caller prints one next.
      pending.open = pending.target.kind === 'container' && pending.target.container === 'qemu_vfio' ? null : 'caller';
      return;
    }
    switch (fact.op) {
      case 'DESTROY':
        this.add({ line, op: 'DESTROY', target: { kind: 'backend' }, args: { id: Number(fact.id) } });
        break;
      case 'GET_HW_INFO':
        // The device's dev_id is known once the device is; QEMU's data buffer is not in the log.
        this.add({ line, op: 'GET_HW_INFO', target: { kind: 'backend' }, args: {}, unknown: ['data_len', 'data_uptr'] });
        break;
      case 'IOAS_ALLOC':
        this.add({ line, op: 'IOAS_ALLOC', target: { kind: 'backend' }, args: {} });
        break;
      case 'VFIO_DEVICE_ATTACH_IOMMUFD_PT':
      case 'VFIO_DEVICE_DETACH_IOMMUFD_PT':
        this.add({ line, op: fact.op, target: { kind: 'device', name: fact.device as string }, args: fact.id === undefined ? {} : { pt_id: Number(fact.id) } });
        break;
      case 'HWPT_ALLOC':
      case 'HWPT_SET_DIRTY_TRACKING':
      case 'HWPT_GET_DIRTY_BITMAP':
      case 'HWPT_INVALIDATE':
      case 'VIOMMU_ALLOC':
      case 'VDEVICE_ALLOC':
        // An iommufd ioctl whose trace line is not in the log: on the backend's fd, its arguments unknown.
        this.add({ line, op: fact.op, target: { kind: 'backend' }, args: {}, unknown: true });
        break;
      default:
        this.add({ line, op: fact.op, target: { kind: 'container', container: null }, args: {}, unknown: true, open: 'caller' });
    }
    failure(this.last() as QemuCall, errno);
  }

  private dma(fact: Extract<QemuFact, { kind: 'dma' }>, line: number): void {
    const mapOps = ['VFIO_IOMMU_MAP_DMA', 'IOAS_MAP', 'IOAS_MAP_FILE'];
    const unmapOps = ['VFIO_IOMMU_UNMAP_DMA', 'IOAS_UNMAP'];
    const errno = fact.ret < 0n ? errnoOfReturn(fact.ret) : undefined;
    const pending = this.pending(fact.unmap ? unmapOps : mapOps);
    if (pending !== undefined && fact.ret !== 0n && this.sameRange(pending, fact)) {
      if (pending.unknown === true) this.fillArgs(pending, fact);
      failure(pending, errno ?? errnoOfText(fact.text ?? ''));
      pending.open = null;
      return;
    }
    // A caller line alone: the call it reports, from the caller's arguments.
    const call = this.add({ line, op: '', target: { kind: 'container', container: fact.container }, args: {} });
    this.fillArgs(call, fact);
    if (fact.ret === 0n) call.result = {};
    else failure(call, errno ?? errnoOfText(fact.text ?? ''));
  }

  /** Whether a caller line reports this call: same range, or a call whose arguments no line gave yet. */
  private sameRange(call: QemuCall, fact: Extract<QemuFact, { kind: 'dma' }>): boolean {
    if (call.unknown === true) return true;
    const iova = call.args['iova'];
    const size = call.args['size'] ?? call.args['length'];
    return iova === hex(fact.iova) && size === hex(fact.size);
  }

  /** The arguments a caller line gives: the op by the log's backend, the write bit unknown. */
  private fillArgs(call: QemuCall, fact: Extract<QemuFact, { kind: 'dma' }>): void {
    const legacy = this.backend === 'legacy';
    const op = fact.unmap ? (legacy ? 'VFIO_IOMMU_UNMAP_DMA' : 'IOAS_UNMAP') : legacy ? 'VFIO_IOMMU_MAP_DMA' : 'IOAS_MAP';
    Object.assign(call, { op, target: { kind: 'container', container: fact.container } });
    delete call.unknown;
    if (fact.unmap) {
      call.args = legacy ? { iova: hex(fact.iova), size: hex(fact.size) } : { iova: hex(fact.iova), length: hex(fact.size) };
    } else if (legacy) {
      call.args = { vaddr: hex(fact.vaddr ?? 0n), iova: hex(fact.iova), size: hex(fact.size) };
      call.oneOf = { flags: LEGACY_MAP_FLAGS };
    } else {
      call.args = { user_va: hex(fact.vaddr ?? 0n), iova: hex(fact.iova), length: hex(fact.size) };
      call.oneOf = { flags: IOAS_MAP_FLAGS_ONE_OF };
    }
  }
}
