/**
 * `import syz`: a syzkaller program for /dev/iommu (`.syz`) or a C reproducer (`.c`), as a
 * trace. An ioctl is decoded from the memory the program wrote, by its number (and, for
 * IOMMU_TEST_CMD, by the op number in the struct, not by the call's name), against the kernel's
 * struct: `size` stays as written. A `.syz` program's addresses move to the data area the
 * program runs with: the C twin's, `--syz-data`, or syzkaller's current one (0x200000000000).
 *
 * syzkaller records no results: no event has `expect`. The values of its resources (the fds
 * and ids later calls pass) are the ones the model gives when it runs the program; a call that
 * fails there leaves its resource at syzkaller's default. A program that repeats runs in child
 * processes, `FORK` to `EXIT`, as many times as `--repeat` says (default 2).
 */
import { existsSync } from 'node:fs';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import { OPS } from '../../events/ops.ts';
import { step } from '../../src/model/dispatch.ts';
import type { World } from '../../src/model/world.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { readCapture } from './capture-text.ts';
import type { HeaderPlan } from './header.ts';
import type { ImportOptions } from './import.ts';
import { LineIssues } from './line-issues.ts';
import { readCReproducer } from './syz-csource.ts';
import { type ResourceRef, fieldSize, readStruct } from './syz-memory.ts';
import { kernelStruct, readSyzProgram } from './syz-program.ts';
import type { Operand, SyzProgram, SyzStep } from './syz-steps.ts';
import { type EventDraft, TraceDraft } from './trace-draft.ts';
import { hex } from '../../events/value-writer.ts';

/** syzkaller's data area since 2024 (pkg/csource: 0x200000000000); the 2023 reproducers used 0x20000000. */
export const SYZ_DATA_AREA = 0x200000000000n;
const DEFAULT_REPEAT = 2;
/** `IOMMU_TEST_CMD` (iommufd_test.h): its op is the struct's second field. */
const IOMMU_TEST_CMD = 0x3ba0n;


/** A `.syz` program's lines: `#` is its own comment syntax, so none is skipped here. */
const allLines = (text: string) => text.replace(/\r\n?/g, '\n').split('\n').map((t, i) => ({ line: i + 1, text: t }));

/** The data area of a `.syz` program: its C twin's (same name, `.c`), `--syz-data`, or syzkaller's current one. */
function dataBaseOf(file: string, options: ImportOptions): SyzProgram['dataBase'] {
  const twin = file.replace(/\.syz$/, '.c');
  if (twin !== file && existsSync(twin)) {
    // Only its mmap() is wanted: what else of it does not read is the twin's business.
    const base = readCReproducer(readCapture(twin), twin, new LineIssues()).dataBase;
    if (base !== null) return { addr: base.addr, from: `${twin.split('/').pop()}, ${base.from}` };
  }
  if (options.syzData !== undefined) return { addr: options.syzData, from: '--syz-data' };
  return { addr: SYZ_DATA_AREA, from: "syzkaller's data area since 2024 (no C reproducer beside the program; --syz-data sets another)" };
}

/** Runs the program on the model, writing each call as an event. */
class SyzRun {
  readonly draft = new TraceDraft();
  private world: World;
  private resources = new Map<number, bigint>();
  private pid: number;

  constructor(
    header: object,
    private readonly program: SyzProgram,
  ) {
    this.world = createWorld(parseHeader(header));
    this.pid = this.world.firstPid;
  }

  private value = (ref: ResourceRef): bigint => this.resources.get(ref.res) ?? this.program.defaults.get(ref.res) ?? 0n;

  private operand(o: Operand): bigint {
    return typeof o === 'bigint' ? o : this.value(o);
  }

  /** Runs one event on the model (as a replay would, adopting nothing: there is nothing recorded). */
  private run(draft: EventDraft, line: number, added?: string): ReturnType<typeof step>['result'] {
    const event = parseEvent({ ...draft, source_line: line }, this.draft.events.length + 2);
    const out = step(this.world, event, { adopt: false });
    this.world = out.world;
    if (added === undefined) this.draft.add(draft, line);
    else this.draft.added(draft, line, added);
    return out.result;
  }

  private withPid(draft: EventDraft): EventDraft {
    return this.pid === this.world.firstPid ? draft : { pid: this.pid, ...draft };
  }

  private ioctl(s: Extract<SyzStep, { kind: 'ioctl' }>): EventDraft {
    const fd = Number(BigInt.asIntN(32, this.operand(s.fd)));
    const arg = s.arg;
    if (arg.kind === 'memory') {
      const testOp = s.cmd === IOMMU_TEST_CMD ? arg.image.read(arg.addr + 4n, 4, this.value) : null;
      const struct = kernelStruct(s.cmd, testOp);
      const spec = [...OPS.values()].find((o) => o.layout.kind === 'struct' && o.layout.struct === struct);
      if (struct === null || spec === undefined) return this.unknownIoctl(s, fd);
      return { fd, op: spec.op, args: readStruct(arg.image, arg.addr, struct, this.value) };
    }
    const spec = [...OPS.values()].find((o) => o.ioctl !== undefined && BigInt(o.ioctl) === s.cmd && o.layout.kind === 'plain');
    if (spec === undefined) return this.unknownIoctl(s, fd);
    return { fd, op: spec.op, ...(arg.kind === 'int' ? { args: { arg: hex(arg.value) } } : {}) };
  }

  /** A number no op of the format has, or a test op the kernel tables lack: a raw ioctl whose argument is not read. */
  private unknownIoctl(s: Extract<SyzStep, { kind: 'ioctl' }>, fd: number): EventDraft {
    return { fd, op: 'IOCTL', args: { cmd: hex(s.cmd) }, unknown_args: ['arg'], note: 'no op of the trace format has this ioctl number' };
  }

  /** A resource a call gave: an output field of its argument, read back from what the model answered. */
  private outputs(s: Extract<SyzStep, { kind: 'ioctl' }>, event: EventDraft, out: { [k: string]: unknown }): void {
    const spec = OPS.get(event.op as never);
    if (spec?.layout.kind !== 'struct') return;
    for (const o of s.outputs) {
      const field = spec.layout.struct.fields.find((f) => f.offset === o.offset && fieldSize(f) >= o.size);
      const v = field === undefined ? undefined : out[field.name];
      if (typeof v === 'bigint') this.resources.set(o.res, v);
    }
  }

  steps(): void {
    for (const s of this.program.steps) {
      if (s.kind === 'open') {
        const result = this.run(this.withPid({ op: 'OPEN', args: { path: s.path } }), s.line);
        if (s.res !== null && result?.errno === null && typeof result.out['fd'] === 'bigint') this.resources.set(s.res, result.out['fd']);
        continue;
      }
      // `res = syscall(...); for (...) syscall(...); if (res != -1) r[N] = *(...)`: the first run
      // decides whether the resource is set, the last run that wrote the argument what it is.
      let firstOk = false;
      let last: { event: EventDraft; out: { [k: string]: unknown } } | null = null;
      for (let i = 0; i < s.times; i++) {
        const event = this.ioctl(s);
        const result = this.run(this.withPid(event), s.line);
        if (result === null || result.errno !== null) continue;
        if (i === 0) firstOk = true;
        last = { event, out: result.out };
      }
      if (firstOk && last !== null) this.outputs(s, last.event, last.out);
    }
  }

  /** One repetition: FORK, the calls in the child, its EXIT, as syzkaller's loop() runs them. */
  child(): void {
    const parent = this.pid;
    const pid = BigInt(this.world.lastPid + 1);
    this.run({ op: 'FORK', expect: { out: { pid: Number(pid) } }, inferred: true }, this.program.steps[0]?.line ?? 1, "syzkaller's loop() runs each repetition in a child process");
    this.pid = Number(pid);
    this.resources = new Map();
    this.steps();
    this.pid = parent;
    this.run({ op: 'EXIT', args: { pid: Number(pid) } }, this.program.steps[this.program.steps.length - 1]?.line ?? 1, 'the child exits when the program ends');
  }
}

export function importSyz(text: string, file: string, header: HeaderPlan, issues: LineIssues, options: ImportOptions): { header: HeaderPlan; draft: TraceDraft; readable: number } {
  const program = file.endsWith('.c') ? readCReproducer(text, file, issues) : readSyzProgram(allLines(text), dataBaseOf(file, options), issues);
  header.note('syzkaller records no results: no event has expect; the fds and ids later calls pass are the ones the model gives when the program runs on it.');
  if (program.dataBase !== null) header.note(`Data area at ${hex(program.dataBase.addr)} (${program.dataBase.from}).`);
  const run = new SyzRun(header.json(), program);
  if (!program.repeat) run.steps();
  else {
    const times = options.repeat ?? DEFAULT_REPEAT;
    header.note(`The program repeats forever; it runs ${times} times here (--repeat), each in a child process.`);
    for (let i = 0; i < times; i++) run.child();
  }
  return { header, draft: run.draft, readable: program.readable };
}
