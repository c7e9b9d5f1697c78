/**
 * What refers to what in one context, kept up to date from the changes of each snapshot so
 * the incremental check can find, for a changed record, the cells that read it, and the
 * counts some invariants compare against without scanning the context.
 */
import type { AccessItem } from '../model/world.ts';

/** An access item, as an index entry. */
export interface ItemRef {
  readonly access: number;
  readonly item: number;
}

function addTo<K, M>(index: Map<K, Map<M, number>>, key: K, member: M, delta: number): void {
  const members = index.get(key) ?? new Map<M, number>();
  const n = (members.get(member) ?? 0) + delta;
  if (n === 0) members.delete(member);
  else members.set(member, n);
  if (members.size === 0) index.delete(key);
  else index.set(key, members);
}

function setItem<K>(index: Map<K, Map<string, ItemRef>>, key: K, ref: ItemRef, add: boolean): void {
  const members = index.get(key) ?? new Map<string, ItemRef>();
  if (add) members.set(`${ref.access}:${ref.item}`, ref);
  else members.delete(`${ref.access}:${ref.item}`);
  if (members.size === 0) index.delete(key);
  else index.set(key, members);
}

const NONE: ReadonlyMap<number, number> = new Map();

export class ContextRefs {
  /** Pages object id → how many areas (of all the context's IOASes) map it. */
  readonly areasOf = new Map<number, number>();
  /** Object id → device id → how many of the device's PASIDs are attached to it. */
  private readonly attachedBy = new Map<number, Map<number, number>>();
  /** Object id → how many device PASIDs are attached to it. */
  private readonly attachments = new Map<number, number>();
  /** IOAS id → the paging HWPTs and accesses that name it (its holders besides the table). */
  private readonly namedBy = new Map<number, Map<number, number>>();
  /** Object id → the IOASes whose domain or access list names it. */
  private readonly listedIn = new Map<number, Map<number, number>>();
  /** Hold key → the access items with a hold of that key. */
  private readonly itemsByKey = new Map<string, Map<string, ItemRef>>();
  /** Area start → the access items with a hold through an area starting there. */
  private readonly itemsByArea = new Map<bigint, Map<string, ItemRef>>();

  countArea(pages: number, delta: number): void {
    const n = (this.areasOf.get(pages) ?? 0) + delta;
    if (n === 0) this.areasOf.delete(pages);
    else this.areasOf.set(pages, n);
  }

  attach(device: number, target: number, delta: number): void {
    addTo(this.attachedBy, target, device, delta);
    const n = (this.attachments.get(target) ?? 0) + delta;
    if (n === 0) this.attachments.delete(target);
    else this.attachments.set(target, n);
  }

  attachmentsTo(id: number): number {
    return this.attachments.get(id) ?? 0;
  }

  devicesAttachedTo(id: number): Iterable<number> {
    return (this.attachedBy.get(id) ?? NONE).keys();
  }

  name(ioas: number, holder: number, delta: number): void {
    addTo(this.namedBy, ioas, holder, delta);
  }

  holdersOf(ioas: number): Iterable<number> {
    return (this.namedBy.get(ioas) ?? NONE).keys();
  }

  holderCount(ioas: number): number {
    return this.namedBy.get(ioas)?.size ?? 0;
  }

  list(ioas: number, ids: readonly number[], delta: number): void {
    for (const id of ids) addTo(this.listedIn, id, ioas, delta);
  }

  listing(id: number): Iterable<number> {
    return (this.listedIn.get(id) ?? NONE).keys();
  }

  /** Adds an item's holds to the indexes, or (`add` false) takes them out. */
  indexItem(access: number, item: AccessItem, add: boolean): void {
    const ref: ItemRef = { access, item: item.id };
    for (const h of item.holds) {
      setItem(this.itemsByKey, h.key, ref, add);
      setItem(this.itemsByArea, h.area, ref, add);
    }
  }

  itemsHolding(key: string): Iterable<ItemRef> {
    return this.itemsByKey.get(key)?.values() ?? [];
  }

  itemsThrough(areaStart: bigint): Iterable<ItemRef> {
    return this.itemsByArea.get(areaStart)?.values() ?? [];
  }
}
