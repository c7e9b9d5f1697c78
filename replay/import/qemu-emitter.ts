/**
 * QEMU calls as trace events, on the fds, IOASes and containers the log names; what a log that
 * starts mid-run lacks (the /dev/iommu it uses, its IOASes, a legacy container's set-up) is
 * added in front, with a note, and no expectation but the free choices later events name.
 */
import type { QemuCall } from './qemu-calls.ts';
import { type LogFacts, deviceOf } from './qemu-facts.ts';
import type { HeaderPlan } from './header.ts';
import { type EventDraft, TraceDraft } from './trace-draft.ts';

type Json = { [key: string]: unknown };

/**
 * The numbers a log prints as fds and object ids: stand-ins are chosen among the others; and
 * the first iommufd a line names.
 */
export function namedNumbers(calls: readonly QemuCall[]): { fds: Set<number>; ids: Set<number>; iommufd: number | null } {
  const fds = new Set<number>();
  const ids = new Set<number>();
  let iommufd: number | null = null;
  for (const c of calls) {
    if (c.target.kind === 'fd') {
      fds.add(c.target.fd);
      iommufd ??= c.target.fd;
    }
    for (const k of ['iommufd', 'fd']) if (typeof c.args[k] === 'number') fds.add(c.args[k] as number);
    const out = c.result?.out ?? {};
    if (typeof out['fd'] === 'number') fds.add(out['fd'] as number);
    for (const k of ['ioas_id', 'id', 'pt_id', 'dev_id', 'hwpt_id']) if (typeof c.args[k] === 'number') ids.add(c.args[k] as number);
    for (const v of Object.values(out)) if (typeof v === 'number') ids.add(v);
  }
  return { fds, ids, iommufd };
}

/** Turns calls into events, adding what a log that starts mid-run does not show. */
export class Emitter {
  readonly draft = new TraceDraft();
  private readonly open = new Set<number>();
  private readonly ioases = new Map<number, Set<number>>();
  /** A QEMU container (by pointer, `qemu_vfio`, or the log's only one) → where its calls go. */
  private readonly containers = new Map<string, { fd: number; ioas?: number }>();
  private lastContainer: string | null = null;
  private backendFd: number | null = null;
  /** Devices bound in front, the log not showing them bound. */
  private readonly bound = new Set<string>();

  constructor(
    private readonly backend: 'iommufd' | 'legacy',
    private readonly header: HeaderPlan,
    private readonly facts: LogFacts,
    private readonly named: { fds: Set<number>; ids: Set<number>; iommufd: number | null },
  ) {}

  private freeFd(): number {
    let fd = 3;
    while (this.open.has(fd) || this.named.fds.has(fd)) fd++;
    this.named.fds.add(fd);
    return fd;
  }

  private freeId(): number {
    let id = 1;
    while (this.named.ids.has(id)) id++;
    this.named.ids.add(id);
    return id;
  }

  /** fd `fd` as an iommufd: opened in front when the log does not show its open. */
  private iommufd(fd: number, line: number): number {
    if (!this.open.has(fd)) {
      this.draft.added({ op: 'OPEN', args: { path: '/dev/iommu' }, expect: { out: { fd } }, inferred: true }, line, 'the log does not show this /dev/iommu fd being opened');
      this.open.add(fd);
    }
    this.backendFd ??= fd;
    return fd;
  }

  /** The log's backend iommufd: the one its lines name, else one opened in front. */
  private backendIommufd(line: number): number {
    return this.iommufd(this.backendFd ?? this.freeFd(), line);
  }

  /** IOAS `id` on `fd`: allocated in front when the log does not show it. */
  private ioas(fd: number, id: number, line: number): void {
    const known = this.ioases.get(fd) ?? new Set<number>();
    this.ioases.set(fd, known);
    if (known.has(id)) return;
    this.draft.added(
      { op: 'IOAS_ALLOC', fd, expect: { out: { out_ioas_id: id } }, inferred: true },
      line,
      'the log does not show this IOAS being allocated',
    );
    known.add(id);
  }

  /**
   * A QEMU container: with iommufd, an IOAS on the backend's fd (the one a backend line pairs it
   * with, else one allocated in front); legacy, /dev/vfio/vfio with a group set and the IOMMU
   * type QEMU picks (`vfio_get_iommu_type()`: TYPE1v2 first; util/vfio-helpers.c: TYPE1). A
   * log whose container events are a SPAPR TCE container's says its host is POWER, where QEMU
   * picks SPAPR_TCE_v2 (its windows and memory preregistration are v2's): the stand-in group's
   * device is then of kind `spapr`, inferred.
   */
  private container(key: string | null, line: number): { fd: number; ioas?: number } {
    const name = key ?? this.lastContainer ?? 'the container';
    this.lastContainer = name;
    const known = this.containers.get(name);
    if (known !== undefined) return known;
    let made: { fd: number; ioas?: number };
    if (this.backend === 'iommufd' && name !== 'qemu_vfio') {
      const fd = this.backendIommufd(line);
      const ioas = this.freeId();
      this.ioas(fd, ioas, line);
      made = { fd, ioas };
    } else {
      const named = this.facts.containers.find((c) => c.line >= line) ?? this.facts.containers[0];
      const group = this.header.groupFor(named ?? {}, 'a VFIO group must join the container before it maps');
      const fd = this.freeFd();
      const groupFd = this.freeFd();
      const why = 'the log does not show its container being set up';
      this.draft.added({ op: 'OPEN', args: { path: '/dev/vfio/vfio' }, expect: { out: { fd } }, inferred: true }, line, why);
      this.draft.added({ op: 'OPEN', args: { path: `/dev/vfio/${group}` }, expect: { out: { fd: groupFd } }, inferred: true }, line, why);
      this.draft.added({ op: 'VFIO_GROUP_SET_CONTAINER', fd: groupFd, args: { container_fd: fd } }, line, why);
      const power = name === 'qemu_vfio' ? null : this.facts.power;
      if (power !== null) this.header.inferKind(group, 'spapr', `the log's ${power.event} (line ${power.line}) is a SPAPR TCE container's, which only a POWER host has`);
      const type = name === 'qemu_vfio' ? 'TYPE1_IOMMU' : power !== null ? 'SPAPR_TCE_v2_IOMMU' : 'TYPE1v2_IOMMU';
      this.draft.added({ op: 'VFIO_SET_IOMMU', fd, args: { arg: type } }, line, `${why}; QEMU sets ${type}`);
      this.open.add(fd).add(groupFd);
      made = { fd };
    }
    this.containers.set(name, made);
    return made;
  }

  /**
   * A device the log shows used but never bound (it starts mid-run): bound by name in front,
   * to the iommufd the log uses, so that the ioctls QEMU issued on its fd are granted.
   */
  private bindInFront(name: string, line: number): void {
    if (this.facts.devid.has(name) || this.bound.has(name)) return;
    this.bound.add(name);
    this.header.device(name);
    const iommufd = this.iommufd(this.backendFd ?? this.named.iommufd ?? this.freeFd(), line);
    this.draft.added({ op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: name, iommufd } }, line, 'the log does not show this device being bound');
  }

  emit(call: QemuCall): void {
    const event: { [key: string]: unknown } = { op: call.op, args: { ...call.args } };
    const args = event['args'] as Json;
    const target = call.target;
    if (target.kind === 'process') {
      // An open the log shows: its fd is the one QEMU printed.
    } else if (target.kind === 'fd') {
      event['fd'] = this.iommufd(target.fd, call.line);
      if (typeof args['ioas_id'] === 'number') this.ioas(event['fd'] as number, args['ioas_id'] as number, call.line);
    } else if (target.kind === 'backend') {
      event['fd'] = call.op === 'CLOSE' ? undefined : this.backendIommufd(call.line);
      if (call.op === 'CLOSE') {
        if (this.backendFd === null) return;
        args['fd'] = this.backendFd;
        this.open.delete(this.backendFd);
      }
    } else if (target.kind === 'device') {
      if (call.op === 'VFIO_DEVICE_FEATURE') this.bindInFront(target.name, call.line);
      // On its cdev fd when the log shows it opened; else named, as format 1 wrote device ops.
      const fd = this.facts.deviceFd.get(target.name);
      if (fd !== undefined && this.open.has(fd)) event['fd'] = fd;
      else args['dev'] = target.name;
      if (typeof args['iommufd'] === 'number') this.iommufd(args['iommufd'] as number, call.line);
    } else {
      const where = this.container(target.container, call.line);
      event['fd'] = where.fd;
      if (where.ioas !== undefined && call.unknown !== true) args['ioas_id'] = where.ioas;
    }
    if (call.op === 'GET_HW_INFO') {
      const device = deviceOf(this.facts, call);
      const devid = device === null ? undefined : this.facts.devid.get(device);
      if (devid !== undefined) args['dev_id'] = devid;
      else call.unknown = [...(call.unknown === true ? [] : (call.unknown ?? [])), 'dev_id'];
    }
    if (event['fd'] === undefined) delete event['fd'];
    if (call.unknown === true) {
      event['unknown_args'] = true;
      delete event['args'];
    } else if (call.unknown !== undefined) {
      event['unknown_args'] = call.unknown;
    }
    if (call.oneOf !== undefined) event['args_one_of'] = call.oneOf;
    if (call.result !== undefined) event['expect'] = call.result;
    if (call.note !== undefined) event['note'] = call.note;
    if (call.inferred === true) event['inferred'] = true;
    const out = call.result?.out ?? {};
    if (call.op === 'OPEN' && typeof out['fd'] === 'number') {
      this.open.add(out['fd']);
      if (args['path'] === '/dev/iommu') this.backendFd = out['fd'];
    }
    if (call.op === 'IOAS_ALLOC' && typeof out['out_ioas_id'] === 'number' && typeof event['fd'] === 'number') {
      const known = this.ioases.get(event['fd']) ?? new Set<number>();
      this.ioases.set(event['fd'], known.add(out['out_ioas_id']));
    }
    this.draft.add(event as EventDraft, call.line);
  }

}

/** QEMU's GET_HW_INFO of a device comes at the end of its attach (vfio_attach_device(), after `iommufd_cdev_device_info`), whenever its failure is printed. */
export function place(calls: readonly QemuCall[], facts: LogFacts): void {
  for (const call of calls) {
    if (call.op !== 'GET_HW_INFO') continue;
    const device = deviceOf(facts, call);
    const info = device === null ? undefined : facts.infoLine.get(device);
    if (info !== undefined && info < call.line) call.at = info + 0.5;
  }
}
