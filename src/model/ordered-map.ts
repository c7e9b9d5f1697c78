/**
 * A persistent ordered map: every update returns a new map that shares structure with the old
 * one, so a snapshot of the model costs nothing to keep and an event copies only the path it
 * changes. This is the one adapter over sorted-btree; the rest of the model sees only this API.
 */
import BTreeModule from 'sorted-btree';

type Tree<K, V> = import('sorted-btree').default<K, V>;
const BTree = ((BTreeModule as unknown as { default?: unknown }).default ?? BTreeModule) as new <K, V>(
  entries?: [K, V][],
  compare?: (a: K, b: K) => number,
) => Tree<K, V>;

function compareKeys<K extends bigint | number>(a: K, b: K): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class OrderedMap<K extends bigint | number, V> {
  private constructor(private readonly tree: Tree<K, V>) {
    tree.freeze();
  }

  static empty<K extends bigint | number, V>(): OrderedMap<K, V> {
    return new OrderedMap<K, V>(new BTree<K, V>(undefined, compareKeys));
  }

  static of<K extends bigint | number, V>(entries: Iterable<readonly [K, V]>): OrderedMap<K, V> {
    const tree = new BTree<K, V>(undefined, compareKeys);
    for (const [k, v] of entries) tree.set(k, v);
    return new OrderedMap(tree);
  }

  get size(): number {
    return this.tree.size;
  }

  get(key: K): V | undefined {
    return this.tree.get(key);
  }

  has(key: K): boolean {
    return this.tree.has(key);
  }

  set(key: K, value: V): OrderedMap<K, V> {
    return new OrderedMap(this.tree.with(key, value, true));
  }

  delete(key: K): OrderedMap<K, V> {
    return this.tree.has(key) ? new OrderedMap(this.tree.without(key)) : this;
  }

  /** The entry with the greatest key ≤ `key`. */
  atOrBelow(key: K): [K, V] | undefined {
    return this.tree.getPairOrNextLower(key);
  }

  /** The entry with the least key > `key`. */
  above(key: K): [K, V] | undefined {
    return this.tree.nextHigherPair(key);
  }

  /** The entry with the least key ≥ `key`. */
  atOrAbove(key: K): [K, V] | undefined {
    return this.tree.getPairOrNextHigher(key);
  }

  first(): [K, V] | undefined {
    const k = this.tree.minKey();
    return k === undefined ? undefined : [k, this.tree.get(k) as V];
  }

  last(): [K, V] | undefined {
    const k = this.tree.maxKey();
    return k === undefined ? undefined : [k, this.tree.get(k) as V];
  }

  keys(): IterableIterator<K> {
    return this.tree.keys();
  }

  values(): IterableIterator<V> {
    return this.tree.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.tree.entries();
  }

  /** Entries with keys ≥ `key`, ascending. */
  entriesFrom(key: K): IterableIterator<[K, V]> {
    return this.tree.entries(key);
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.tree.entries();
  }
}
