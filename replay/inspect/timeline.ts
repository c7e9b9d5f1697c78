/**
 * A trace as a timeline of snapshots, for going to any event. The trace is replayed once, as far
 * as it is asked to go (the frontier); every `every` events the snapshot is kept as a
 * checkpoint, with where the next event's line starts in the file. Snapshots share every part
 * of the state the events between them left alone (the model's maps are persistent), so a
 * checkpoint costs what changed since the one before, not the whole state. Behind the
 * frontier, an event is reached from the checkpoint before it (or the position last reached,
 * when that is nearer), replaying at most `every` - 1 events read again from the file.
 *
 * Positions are event ordinals: 0 is the state the header builds, n the state after the n-th
 * event. Keeping checkpoints is the one cost that grows with the trace: `replay` and `audit`
 * keep none.
 */
import { clip } from '../../events/quote.ts';
import { type OpenTrace, TraceError, openTrace } from '../../events/index.ts';
import type { TraceEvent, TraceHeader } from '../../events/types.ts';
import { headerKernel } from '../../src/kernel/select.ts';
import type { World } from '../../src/model/world.ts';
import type { FileOptions } from '../replay-file.ts';
import { type Outcome, Replayer, type ViolationRecord } from '../replayer.ts';
import { InspectError } from './inspect-error.ts';
import { type LineStart, TraceBytes } from './trace-bytes.ts';

/** Events between checkpoints, by default. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

export interface TimelineOptions extends FileOptions {
  /** Events between checkpoints (`K`). */
  readonly checkpointEvery?: number;
  /** What messages and documents call the trace (a capture's name, for one imported); its path by default. */
  readonly name?: string;
  /** Told, as `replay` prints it, what reading the header's `env.kernel` warned of when no `kernel` is given. */
  readonly warn?: (line: string) => void;
}

/** The state after one event, and that event. */
export interface Position {
  readonly ordinal: number;
  /** The event's line; the header's for ordinal 0. */
  readonly line: number;
  readonly seq: number | null;
  /** The capture line the event was imported from (format 1.1 `source_line`), when it says. */
  readonly sourceLine: number | null;
  readonly op: string | null;
  readonly outcome: Outcome | null;
  /** The errno the model answered the event with; null for a success or an event not run. */
  readonly errno: string | null;
  readonly world: World;
}

/** A position replays can start from: it knows where the next event's line starts. */
interface Start extends Position {
  next: LineStart | null;
}

/** The events from one checkpoint to the next. */
interface Block {
  readonly start: Start;
  /** The line of its last event so far (the next checkpoint's own included). */
  lastLine: number;
  /** The least and greatest seq of its events, to find one by seq. */
  minSeq: number;
  maxSeq: number;
}

const errorText = (e: unknown): string => clip(e instanceof Error ? e.message.replace(/^\[iommufd-model\] /, '') : String(e), 200);

export class Timeline {
  readonly every: number;
  private readonly blocks: Block[] = [];
  private frontier: Start;
  private readonly bytes: TraceBytes;
  private readonly lineStarts: ReturnType<TraceBytes['lineStarts']>;
  private readonly batches: AsyncIterator<Iterable<TraceEvent>>;
  private batch: Iterator<TraceEvent> | null = null;
  private ended = false;
  /** The position last reached behind the frontier: going on from it is cheaper than from its checkpoint. */
  private recent: Start | null = null;
  /** What messages and documents call the trace. */
  readonly name: string;
  /** `name`, quoted for a message. */
  private readonly quoted: string;
  /** Events replayed again behind the frontier, all told: what going back has cost. */
  replayed = 0;

  private constructor(
    readonly file: string,
    readonly header: TraceHeader,
    private readonly trace: OpenTrace,
    private readonly options: TimelineOptions,
    private readonly replayer: Replayer,
  ) {
    this.every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.name = options.name ?? file;
    this.quoted = clip(this.name, Infinity);
    this.bytes = new TraceBytes(file, this.name);
    this.lineStarts = this.bytes.lineStarts();
    const world = replayer.world;
    this.frontier = { ordinal: 0, line: this.bytes.headerLine(), seq: null, sourceLine: null, op: null, outcome: null, errno: null, world, next: null };
    this.blocks.push({ start: this.frontier, lastLine: this.frontier.line, minSeq: Infinity, maxSeq: -Infinity });
    this.batches = trace.batches[Symbol.asyncIterator]();
  }

  /** Opens `file` and reads its header; rejects with a `TraceError` naming the line at fault. */
  static async open(file: string, options: TimelineOptions): Promise<Timeline> {
    const name = options.name ?? file;
    const trace = await openTrace(file, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }).catch((e: unknown) => {
      throw named(e, file, name);
    });
    try {
      // Divergences are not listed here: each position says how its event came out.
      const timeline = new Timeline(file, trace.header, trace, options, new Replayer(trace.header, { ...options, maxDivergences: 0 }));
      const warning = options.kernel === undefined ? headerKernel(trace.header).warning : null;
      if (warning !== null) options.warn?.(`${timeline.quoted}: ${warning}`);
      return timeline;
    } catch (e) {
      await trace.close();
      // As replay places it: a header the model cannot build a world from fails at line 1.
      throw e instanceof TraceError ? e : new TraceError(name, 1, errorText(e));
    }
  }

  /** Stops reading the file: the frontier goes no further. */
  async close(): Promise<void> {
    this.ended = true;
    this.lineStarts.close();
    await this.trace.close();
  }

  /** The furthest position replayed so far. */
  get reached(): Position {
    return this.frontier;
  }

  get checkpoints(): readonly Position[] {
    return this.blocks.map((b) => b.start);
  }

  /** The invariants the event on `line` broke (with `invariants`, once the frontier is past it). */
  violationsAt(line: number): readonly ViolationRecord[] {
    const all = this.replayer.violations;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((all[mid] as ViolationRecord).line < line) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < all.length && (all[end] as ViolationRecord).line === line) end++;
    return all.slice(lo, end);
  }

  private async nextEvent(): Promise<TraceEvent | null> {
    for (;;) {
      const item = this.batch?.next();
      if (item !== undefined && item.done !== true) return item.value;
      const batch = await this.batches.next();
      if (batch.done === true) return null;
      this.batch = batch.value[Symbol.iterator]();
    }
  }

  /** Replays the next event at the frontier; false at the end of the trace. */
  async advance(): Promise<boolean> {
    if (this.ended) return false;
    let event: TraceEvent | null;
    try {
      event = await this.nextEvent();
    } catch (e) {
      this.ended = true;
      throw named(e, this.file, this.name);
    }
    if (event === null) {
      this.ended = true;
      this.lineStarts.close();
      return false;
    }
    const block = this.blocks[this.blocks.length - 1] as Block;
    if (block.start === this.frontier) this.frontier.next = this.lineStarts.startOf(event.line);
    let fed: ReturnType<Replayer['feed']>;
    try {
      fed = this.replayer.feed(event);
    } catch (e) {
      // The model failing on an event stops the trace there, as it stops `replay`.
      this.ended = true;
      throw new InspectError(`${this.quoted}:${event.line}: ${errorText(e)}`);
    }
    this.frontier = startAfter(this.frontier.ordinal + 1, event, fed, this.replayer.world);
    block.lastLine = event.line;
    if (event.seq !== null) {
      block.minSeq = Math.min(block.minSeq, event.seq);
      block.maxSeq = Math.max(block.maxSeq, event.seq);
    }
    if (this.frontier.ordinal % this.every === 0) this.blocks.push({ start: this.frontier, lastLine: event.line, minSeq: Infinity, maxSeq: -Infinity });
    return true;
  }

  /** Replays to the end of the trace. */
  async finish(): Promise<void> {
    while (await this.advance());
  }

  /** The block holding ordinal `n`. */
  private blockOf(n: number): Block {
    return this.blocks[Math.floor(n / this.every)] as Block;
  }

  /** The positions after `from`, replayed again from the file, up to and including ordinal `to`. */
  private *replayFrom(from: Start, to: number): Generator<Start> {
    if (from.ordinal >= to || from.next === null) return;
    const replayer = new Replayer(this.header, { ...this.options, invariants: false, invariantsFull: false, maxDivergences: 0 }, from.world);
    let ordinal = from.ordinal;
    for (const { event, next } of this.bytes.eventsFrom(from.next)) {
      this.replayed++;
      const fed = replayer.feed(event);
      const p = startAfter(++ordinal, event, fed, replayer.world);
      p.next = next;
      yield p;
      if (ordinal >= to) return;
    }
    throw new Error(`[iommufd-model] ${this.quoted} ended before event ${to}: was it changed while it was read?`);
  }

  /** The position at ordinal `n`, replaying on at the frontier as far as it needs. */
  async at(n: number): Promise<Position> {
    while (this.frontier.ordinal < n && (await this.advance()));
    if (n > this.frontier.ordinal) throw new InspectError(`${this.quoted} has ${this.frontier.ordinal} events, not ${n}`);
    if (n === this.frontier.ordinal) return this.frontier;
    const block = this.blockOf(n);
    const recent = this.recent;
    const from = recent !== null && recent.ordinal <= n && recent.ordinal > block.start.ordinal ? recent : block.start;
    let found = from;
    for (const p of this.replayFrom(from, n)) found = p;
    this.recent = found;
    return found;
  }

  /** The ordinal of the event on `line`; the header's line is ordinal 0. */
  async ordinalOfLine(line: number): Promise<number> {
    while (this.frontier.line < line && (await this.advance()));
    if (line > this.frontier.line) throw new InspectError(`${this.quoted}: line ${line} is past the end of the trace (its last event is on line ${this.frontier.line})`);
    const header = (this.blocks[0] as Block).start.line;
    if (line === header) return 0;
    if (line < header) throw new InspectError(`${this.quoted}: line ${line} is before the header (line ${header}), not an event`);
    if (line === this.frontier.line) return this.frontier.ordinal;
    const block = this.blocks.find((b) => b.lastLine >= line) as Block;
    for (const p of this.scan(block)) {
      if (p.line === line) return p.ordinal;
      if (p.line > line) break;
    }
    throw new InspectError(`${this.quoted}: line ${line} is a blank or comment line, not an event`);
  }

  /** The ordinal of the first event whose seq is `seq`. */
  async ordinalOfSeq(seq: number): Promise<number> {
    for (const block of this.blocks) {
      if (seq < block.minSeq || seq > block.maxSeq) continue;
      for (const p of this.scan(block)) if (p.seq === seq) return p.ordinal;
    }
    for (;;) {
      if (!(await this.advance())) throw new InspectError(`${this.quoted}: no event has seq ${seq}`);
      if (this.frontier.seq === seq) return this.frontier.ordinal;
    }
  }

  /** A block's positions after its checkpoint, replayed again, as far as the frontier. */
  private scan(block: Block): Generator<Start> {
    return this.replayFrom(block.start, Math.min(block.start.ordinal + this.every, this.frontier.ordinal));
  }

  /** Every position after ordinal `n`, in order, to the end of the trace (or until the caller stops). */
  async *after(n: number): AsyncGenerator<Position> {
    let ordinal = n;
    while (ordinal < this.frontier.ordinal) {
      const block = this.blockOf(ordinal);
      const end = Math.min(block.start.ordinal + this.every, this.frontier.ordinal);
      const from = ordinal === block.start.ordinal ? block.start : ((await this.at(ordinal)) as Start);
      for (const p of this.replayFrom(from, end)) {
        ordinal = p.ordinal;
        yield p;
      }
    }
    while (await this.advance()) yield this.frontier;
  }
}

function startAfter(ordinal: number, event: TraceEvent, fed: ReturnType<Replayer['feed']>, world: World): Start {
  const { outcome, result } = fed;
  return { ordinal, line: event.line, seq: event.seq, sourceLine: event.sourceLine ?? null, op: event.op, outcome, errno: result?.errno ?? null, world, next: null };
}

/** The reader's error about `file`, naming the trace `name` instead. */
function named(e: unknown, file: string, name: string): unknown {
  return e instanceof TraceError && e.file === file && name !== file ? new TraceError(name, e.line, e.reason, { cause: e }) : e;
}
