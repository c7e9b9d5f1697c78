/**
 * `import strace`: strace output of a VFIO or iommufd user, with or without `-f`, `-t`/`-tt`,
 * `-r`, `-T`, `-yy` and `-X raw`/`-X verbose`.
 *
 * strace decodes neither VFIO nor iommufd structs: an ioctl keeps its op, fd and result, and
 * its arguments are unknown (format 1.1 `unknown_args`), but for the ioctls whose argument is
 * an integer strace prints (`VFIO_CHECK_EXTENSION`, `VFIO_SET_IOMMU`). Ioctls share numbers
 * across file kinds, so strace may print several names (`VFIO_DEVICE_PCI_HOT_RESET or
 * VFIO_IOMMU_MAP_DMA`): the fd's kind decides, from the path it was opened with or `-yy` shows;
 * without either, from the ioctls already issued on it, and the choice is marked `unsure`.
 */
import { OPS } from '../../events/ops.ts';
import type { OpFamily } from '../../events/spec-types.ts';
import { captureLines } from './capture-text.ts';
import type { HeaderPlan } from './header.ts';
import type { LineIssues } from './line-issues.ts';
import { type StraceLine, readResult, readStraceLine, splitArgs, unquote } from './strace-line.ts';
import { type EventDraft, TraceDraft } from './trace-draft.ts';

type Kind = 'iommufd' | 'container' | 'group' | 'device';

/** The op families an ioctl on each kind of file can be (iommufd answers the VFIO container ioctls too). */
const FAMILIES: { readonly [K in Kind]: readonly OpFamily[] } = {
  iommufd: ['iommufd', 'selftest', 'vfio-container'],
  container: ['vfio-container'],
  group: ['vfio-group'],
  device: ['vfio-device'],
};

const KIND_OF_FAMILY: { readonly [F in OpFamily]?: Kind } = {
  iommufd: 'iommufd',
  selftest: 'iommufd',
  'vfio-container': 'container',
  'vfio-group': 'group',
  'vfio-device': 'device',
};

/** The kind of file a path opens, when it is one the model knows. */
function kindOfPath(path: string): Kind | null {
  if (path === '/dev/iommu') return 'iommufd';
  if (path === '/dev/vfio/vfio') return 'container';
  if (/^\/dev\/vfio\/(noiommu-)?\d+$/.test(path)) return 'group';
  if (/^\/dev\/vfio\/devices\/(noiommu-)?vfio\d+$/.test(path) || path === 'anon_inode:[vfio-device]') return 'device';
  return null;
}

/** The format's op for an ioctl name strace prints: iommufd's without `IOMMU_`, VFIO's whole. */
function opOfName(name: string): string | null {
  const op = name.startsWith('IOMMU_') ? name.slice('IOMMU_'.length) : name;
  return OPS.has(op as never) ? op : null;
}

/**
 * An ioctl number a strace that knows no name for it prints by its parts: `_IO(0x3b, 0x66)`,
 * `_IOC(_IOC_NONE, 0x3b, 0x66, 0)` (strace's ioctl_decode_command_number()); VFIO's and
 * iommufd's are all `_IO`, whose number is type and nr.
 */
function ioctlParts(cmd: string): string | null {
  const m = /^_IO\((0x[0-9a-fA-F]+), (0x[0-9a-fA-F]+)\)$/.exec(cmd) ?? /^_IOC\(_IOC_NONE, (0x[0-9a-fA-F]+), (0x[0-9a-fA-F]+), 0(?:x0)?\)$/.exec(cmd);
  return m === null ? null : `0x${((Number(m[1]) << 8) | Number(m[2])).toString(16)}`;
}

/** The ops an ioctl's second argument may name: names (`A or B`), a number (`-X raw`, or by its parts), or both (`-X verbose`). */
function candidates(cmd: string): { ops: string[]; printed: string } {
  const verbose = /^(0x[0-9a-fA-F]+)\s*\/\*\s*(.*?)\s*\*\/$/.exec(cmd);
  const printed = verbose?.[2] ?? cmd;
  const number = verbose?.[1] ?? (/^0x[0-9a-fA-F]+$/.test(cmd) ? cmd : ioctlParts(cmd));
  if (number !== null && verbose === null) {
    const n = Number(number);
    return { ops: [...OPS.values()].filter((s) => s.ioctl === n && s.family !== 'selftest').map((s) => s.op), printed };
  }
  return { ops: printed.split(' or ').map((n) => opOfName(n.trim())).filter((o): o is string => o !== null), printed };
}

/** What the trace knows of an fd: its kind, and whether that was seen or inferred. */
interface FdState {
  kind: Kind | null;
  seen: boolean;
  /** The container's IOMMU type, once `VFIO_SET_IOMMU` named it: SPAPR ops share type1's numbers. */
  spapr?: boolean;
  /** A container's group, when the importer added it: a stand-in, whose device kind the capture decides. */
  group?: number;
}

/** VFIO_SPAPR_TCE_IOMMU and VFIO_SPAPR_TCE_v2_IOMMU (include/uapi/linux/vfio.h). */
const SPAPR_TYPES = [2, 7];

/** The integer argument strace prints for the VFIO ioctls that take one. */
const INTEGER_ARG = new Set(['VFIO_CHECK_EXTENSION', 'VFIO_SET_IOMMU']);

class StraceImport {
  readonly draft = new TraceDraft();
  private readonly fds = new Map<number, FdState>();
  private readonly pending = new Map<string, { line: number; name: string; args: string }>();
  readable = 0;

  constructor(
    private readonly header: HeaderPlan,
    private readonly issues: LineIssues,
    /** Every fd number the capture shows: fds the importer opens itself avoid them. */
    private readonly named: Set<number>,
  ) {}

  private freeFd(): number {
    let fd = 3;
    while (this.named.has(fd) || this.fds.has(fd)) fd++;
    this.named.add(fd);
    return fd;
  }

  line(line: number, read: StraceLine): void {
    switch (read.kind) {
      case 'blank':
        return;
      case 'other':
        this.readable++;
        return;
      case 'unreadable':
        this.issues.add(line, read.reason);
        return;
      case 'unfinished':
        this.readable++;
        this.pending.set(`${read.pid}:${read.name}`, { line, name: read.name, args: read.args });
        return;
      case 'resumed': {
        const first = this.pending.get(`${read.pid}:${read.name}`);
        if (first === undefined) {
          this.issues.add(line, `${read.name}: resumed, but its start is not in the capture`);
          return;
        }
        this.pending.delete(`${read.pid}:${read.name}`);
        this.readable++;
        this.call(first.line, read.pid, read.name, `${first.args}${read.args}`, read.result);
        return;
      }
      case 'call':
        this.readable++;
        this.call(line, read.pid, read.name, read.args, read.result);
    }
  }

  private call(line: number, pid: number | null, name: string, args: string, result: string): void {
    const extra = pid === null ? {} : { tid: pid };
    const parts = splitArgs(args);
    const { ret, errno } = readResult(result);
    if (name === 'open' || name === 'openat') {
      const path = unquote(parts[name === 'open' ? 0 : 1] ?? '') ?? undefined;
      const kind = path === undefined ? null : kindOfPath(path);
      if (path === undefined || kind === null || ret === null) return;
      if (kind === 'group') this.header.groupFor({ group: Number(/(\d+)$/.exec(path)?.[1]) }, 'the capture opens this group');
      this.draft.add({ op: 'OPEN', ...extra, args: { path }, expect: errno !== null ? { errno } : { out: { fd: Number(ret) } } }, line);
      if (errno === null) this.fds.set(Number(ret), { kind, seen: true });
      return;
    }
    if (name === 'close') {
      const fd = this.fdOf(parts[0] ?? '').fd;
      if (fd !== null && this.fds.has(fd) && errno === null) {
        this.draft.add({ op: 'CLOSE', ...extra, args: { fd } }, line);
        this.fds.delete(fd);
      }
      return;
    }
    if (name === 'ioctl') this.ioctl(line, extra, parts, ret, errno);
  }

  /** The fd of an argument, and the path `-y`/`-yy` decorate it with (`25</dev/iommu>`). */
  private fdOf(arg: string): { fd: number | null; path: string | null } {
    const m = /^(\d+)(?:<(.*)>)?$/.exec(arg);
    if (m === null) return { fd: null, path: null };
    // With -x, the path is escaped as a quoted string's would be.
    const path = m[2] === undefined ? null : (unquote(`"${m[2].replace(/<char [0-9:]+>$/, '')}"`) as string);
    return { fd: Number(m[1]), path };
  }

  private ioctl(line: number, extra: object, parts: readonly string[], ret: bigint | null, errno: string | null): void {
    const { fd, path } = this.fdOf(parts[0] ?? '');
    if (fd === null) {
      this.issues.add(line, `ioctl: cannot read the fd ${JSON.stringify(parts[0])}`);
      return;
    }
    const state = this.fds.get(fd) ?? { kind: null, seen: false };
    if (path !== null && kindOfPath(path) !== null) Object.assign(state, { kind: kindOfPath(path), seen: true });
    const { ops, printed } = candidates(parts[1] ?? '');
    let choice = ops;
    if (state.kind !== null) choice = choice.filter((op) => FAMILIES[state.kind as Kind].includes(OPS.get(op as never)?.family as OpFamily));
    if (choice.length > 1 && state.spapr !== undefined) choice = choice.filter((op) => op.includes('SPAPR') === state.spapr);
    if (choice.length !== 1) {
      this.issues.add(
        line,
        choice.length === 0
          ? `ioctl ${printed}: no op of the trace format${state.kind === null ? '' : ` on a ${state.kind} fd`}`
          : `ioctl ${printed}: the fd's kind does not tell ${choice.join(' from ')}`,
      );
      return;
    }
    const op = choice[0] as string;
    // Chosen among several ioctls of one number without knowing what the fd is: a guess.
    const unsure = (ops.length > 1 || printed.includes(' or ')) && !state.seen;
    const byEarlier = state.kind !== null;
    state.kind ??= KIND_OF_FAMILY[OPS.get(op as never)?.family as OpFamily] ?? null;
    if (!this.fds.has(fd)) this.opened(fd, state, op, line);
    this.fds.set(fd, state);
    const event: { [key: string]: unknown } = { ...extra, fd, op };
    if (INTEGER_ARG.has(op)) {
      event['args'] = { arg: Number(parts[2] ?? 0) };
      if (op === 'VFIO_SET_IOMMU' && errno === null) {
        state.spapr = SPAPR_TYPES.includes(Number(parts[2]));
        if (state.spapr) this.onPower(state, `the capture's VFIO_SET_IOMMU(${parts[2]}) on fd ${fd} chose a SPAPR TCE IOMMU (line ${line}), which only a POWER host's driver takes`);
      }
    } else if (op.startsWith('VFIO_IOMMU_SPAPR_')) {
      event['unknown_args'] = true;
      this.onPower(state, `the capture issues ${op} on container fd ${fd} (line ${line}), an ioctl of the SPAPR TCE IOMMU driver only`);
    } else if (op !== 'VFIO_GET_API_VERSION' && op !== 'VFIO_GROUP_UNSET_CONTAINER') {
      event['unknown_args'] = true;
    }
    if (ret !== null) event['expect'] = errno !== null ? { errno } : ret === 0n ? {} : { out: { ret: Number(ret) } };
    if (unsure) {
      event['unsure'] = true;
      event['note'] = byEarlier
        ? `strace prints ${printed}; the capture does not say what fd ${fd} is: ${op} is chosen by the ioctls issued on it before`
        : `strace prints ${printed}; the capture says nothing of fd ${fd}: ${op} is the only one of them the trace format has`;
    }
    this.draft.add(event as EventDraft, line);
  }

  /**
   * An fd the capture uses but does not show opened: opened in front, by the kind its ioctls
   * give it; a container also gets the group that must have joined it before any ioctl but
   * VFIO_GET_API_VERSION and VFIO_CHECK_EXTENSION (`vfio_ioctl_set_iommu()`, `vfio_iommu_*()`).
   */
  private opened(fd: number, state: FdState, op: string, line: number): void {
    const why = `the capture does not show fd ${fd} being opened; its ioctls make it ${state.kind === 'iommufd' ? 'an' : 'a'} ${state.kind} fd`;
    let path: string | null = null;
    if (state.kind === 'iommufd') path = '/dev/iommu';
    else if (state.kind === 'container') path = '/dev/vfio/vfio';
    else if (state.kind === 'group') path = `/dev/vfio/${this.header.groupFor({}, 'the capture uses a group fd it does not show opened')}`;
    if (path === null) return;
    this.draft.added({ op: 'OPEN', args: { path }, expect: { out: { fd } }, inferred: true }, line, why);
    if (state.kind !== 'container' || op === 'VFIO_GET_API_VERSION' || op === 'VFIO_CHECK_EXTENSION') return;
    const group = this.header.groupFor({}, 'a VFIO group must join a container before its IOMMU ioctls');
    const groupFd = this.freeFd();
    const joined = `the capture does not show the group that joined container fd ${fd}`;
    this.draft.added({ op: 'OPEN', args: { path: `/dev/vfio/${group}` }, expect: { out: { fd: groupFd } }, inferred: true }, line, joined);
    this.draft.added({ op: 'VFIO_GROUP_SET_CONTAINER', fd: groupFd, args: { container_fd: fd } }, line, joined);
    this.fds.set(groupFd, { kind: 'group', seen: true });
    state.group = group;
  }

  /** A container whose ioctls say its host is POWER: its stand-in group's device is of kind `spapr`. */
  private onPower(state: FdState, why: string): void {
    if (state.group !== undefined) this.header.inferKind(state.group, 'spapr', why);
  }
}

export function importStrace(text: string, header: HeaderPlan, issues: LineIssues): { header: HeaderPlan; draft: TraceDraft; readable: number } {
  const lines = captureLines(text);
  const named = new Set<number>();
  for (const { text: raw } of lines) for (const m of raw.matchAll(/(?:\(|\s=\s)(\d+)(?=[,)<\s]|$)/g)) named.add(Number(m[1]));
  const importer = new StraceImport(header, issues, named);
  for (const { line, text: raw } of lines) importer.line(line, readStraceLine(raw));
  return { header, draft: importer.draft, readable: importer.readable };
}
