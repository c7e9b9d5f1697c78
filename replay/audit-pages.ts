/**
 * The audit's table of pages objects: every one still alive, and of those that went away the
 * `keep` that pinned the most (all of them with `--history`), in the order they appeared. It
 * follows the snapshots by what changed between two of them, so an event costs the pages
 * objects it changed, and memory the live ones plus `keep`.
 */
import { pinnedOf } from '../src/iommufd/pages/pages.ts';
import { OrderedMap } from '../src/model/ordered-map.ts';
import type { Ctx, Pages, World } from '../src/model/world.ts';

export interface PagesRecord {
  readonly ctx: number;
  readonly id: number;
  readonly owner: number;
  readonly uid: number;
  readonly account: string;
  readonly kind: string;
  readonly start: string;
  readonly length: string;
  /** The first and the last line after which it existed. */
  firstLine: number;
  lastLine: number;
  maxPinned: number;
  areas: number;
}

interface Row {
  /** When it appeared, to list the rows in that order. */
  readonly order: number;
  readonly record: PagesRecord;
}

const NO_CONTEXTS = OrderedMap.empty<number, Ctx>();
const NO_PAGES = OrderedMap.empty<number, Pages>();

/** `a` is a row to give up before `b`: it pinned less, or as much and appeared later. */
const worse = (a: Row, b: Row): boolean =>
  a.record.maxPinned < b.record.maxPinned || (a.record.maxPinned === b.record.maxPinned && a.order > b.order);

export class PagesTable {
  private contexts = NO_CONTEXTS;
  private readonly live = new Map<string, Row>();
  /** The rows kept of gone pages objects: a heap, the first to give up at the root. */
  private readonly gone: Row[] = [];
  private appeared = 0;
  /** The line of the last event that changed the state. */
  private line = 0;
  /** Rows of gone pages objects given up. */
  omitted = 0;

  constructor(private readonly keep: number) {}

  /** Takes in the snapshot after the event on `line`, which changed the state. */
  update(world: World, line: number): void {
    world.contexts.changesSince(this.contexts, (ctxId, was, now) => {
      (now?.pages ?? NO_PAGES).changesSince(was?.pages ?? NO_PAGES, (id, _old, pages) => {
        const key = `${ctxId}:${id}`;
        let row = this.live.get(key);
        if (pages === undefined) {
          if (row === undefined) return;
          row.record.lastLine = this.line;
          this.live.delete(key);
          this.retire(row);
          return;
        }
        if (row === undefined) {
          row = { order: this.appeared++, record: recordOf(ctxId, pages, line) };
          this.live.set(key, row);
        }
        row.record.maxPinned = Math.max(row.record.maxPinned, Number(pinnedOf(pages)));
        row.record.areas = Math.max(row.record.areas, pages.areaRefs);
      });
    });
    this.contexts = world.contexts;
    this.line = line;
  }

  /** The rows, in the order their pages objects appeared. */
  rows(): PagesRecord[] {
    for (const row of this.live.values()) row.record.lastLine = this.line;
    return [...this.live.values(), ...this.gone].sort((a, b) => a.order - b.order).map((row) => row.record);
  }

  private retire(row: Row): void {
    const heap = this.gone;
    if (heap.length < this.keep) {
      heap.push(row);
      this.siftUp(heap.length - 1);
      return;
    }
    this.omitted++;
    if (heap.length > 0 && worse(heap[0] as Row, row)) {
      heap[0] = row;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    const heap = this.gone;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(heap[i] as Row, heap[parent] as Row)) return;
      [heap[i], heap[parent]] = [heap[parent] as Row, heap[i] as Row];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.gone;
    for (;;) {
      let first = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && worse(heap[child] as Row, heap[first] as Row)) first = child;
      }
      if (first === i) return;
      [heap[i], heap[first]] = [heap[first] as Row, heap[i] as Row];
      i = first;
    }
  }
}

function recordOf(ctx: number, p: Pages, line: number): PagesRecord {
  return {
    ctx,
    id: p.id,
    owner: p.owner,
    uid: p.ownerUid,
    account: p.account,
    kind: p.kind,
    start: `0x${p.start.toString(16)}`,
    length: `0x${p.length.toString(16)}`,
    firstLine: line,
    lastLine: line,
    maxPinned: 0,
    areas: 0,
  };
}
