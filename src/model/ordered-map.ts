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

/** A node of a sorted-btree tree (its internal shape, which `changesSince` walks): a leaf has no `children`. */
interface Node<K, V> {
  readonly keys: readonly K[];
  readonly values: readonly V[];
  readonly children?: readonly Node<K, V>[];
}

const rootOf = <K, V>(tree: Tree<K, V>): Node<K, V> => (tree as unknown as { readonly _root: Node<K, V> })._root;

function heightOf<K, V>(root: Node<K, V>): number {
  let h = 0;
  for (let n = root; n.children !== undefined; n = n.children[0] as Node<K, V>) h++;
  return h;
}

/** The entries of a list of leaves, in order; one leaf's own arrays as they are. */
function entriesOf<K, V>(leaves: readonly Node<K, V>[]): [readonly K[], readonly V[]] {
  if (leaves.length === 1) return [(leaves[0] as Node<K, V>).keys, (leaves[0] as Node<K, V>).values];
  const keys: K[] = [];
  const values: V[] = [];
  for (const leaf of leaves) {
    for (let i = 0; i < leaf.keys.length; i++) {
      keys.push(leaf.keys[i] as K);
      values.push(leaf.values[i] as V);
    }
  }
  return [keys, values];
}

function childrenOf<K, V>(nodes: readonly Node<K, V>[]): readonly Node<K, V>[] {
  if (nodes.length === 1) return (nodes[0] as Node<K, V>).children as readonly Node<K, V>[];
  const out: Node<K, V>[] = [];
  for (const n of nodes) for (const c of n.children as readonly Node<K, V>[]) out.push(c);
  return out;
}

/**
 * Two lists of nodes of the same height, ascending, less the nodes both have. Nodes of one
 * height cover disjoint key ranges, so a node both trees share has the same greatest key in
 * both lists, and no other node there has it.
 */
function unshared<K, V>(a: readonly Node<K, V>[], b: readonly Node<K, V>[], compare: (x: K, y: K) => number): [Node<K, V>[], Node<K, V>[]] {
  const onlyA: Node<K, V>[] = [];
  const onlyB: Node<K, V>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Node<K, V>;
    const y = b[j] as Node<K, V>;
    if (x === y) {
      i++;
      j++;
      continue;
    }
    if (x.keys.length === 0) {
      i++;
      continue;
    }
    if (y.keys.length === 0) {
      j++;
      continue;
    }
    const c = compare(x.keys[x.keys.length - 1] as K, y.keys[y.keys.length - 1] as K);
    if (c <= 0) {
      onlyA.push(x);
      i++;
    }
    if (c >= 0) {
      onlyB.push(y);
      j++;
    }
  }
  for (; i < a.length; i++) onlyA.push(a[i] as Node<K, V>);
  for (; j < b.length; j++) onlyB.push(b[j] as Node<K, V>);
  return [onlyA, onlyB];
}

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

  /**
   * Every key whose value is not the same object in `older` (added, removed or replaced), with
   * both values, ascending. The subtrees the two maps share are skipped, so for a map made from
   * `older` by k updates this costs O(k log n), not O(n).
   */
  changesSince(older: OrderedMap<K, V>, visit: (key: K, was: V | undefined, now: V | undefined) => void): void {
    if (older === this) return;
    // Level by level from the roots, dropping the subtrees both trees share; what is left at
    // the leaves holds every entry that differs.
    let was: readonly Node<K, V>[] = [rootOf(older.tree)];
    let now: readonly Node<K, V>[] = [rootOf(this.tree)];
    let height = heightOf(was[0] as Node<K, V>);
    let heightNow = heightOf(now[0] as Node<K, V>);
    for (; heightNow > height; heightNow--) now = childrenOf(now);
    for (; height > heightNow; height--) was = childrenOf(was);
    for (;;) {
      [was, now] = unshared(was, now, compareKeys);
      if (height === 0) break;
      was = childrenOf(was);
      now = childrenOf(now);
      height--;
    }
    const [keysA, valuesA] = entriesOf(was);
    const [keysB, valuesB] = entriesOf(now);
    // Skip the entries both begin and end with, then merge the rest by key.
    let i = 0;
    let j = 0;
    let endA = keysA.length;
    let endB = keysB.length;
    while (i < endA && i < endB && keysA[i] === keysB[i] && valuesA[i] === valuesB[i]) i++;
    j = i;
    while (endA > i && endB > j && keysA[endA - 1] === keysB[endB - 1] && valuesA[endA - 1] === valuesB[endB - 1]) {
      endA--;
      endB--;
    }
    while (i < endA || j < endB) {
      const c = i === endA ? 1 : j === endB ? -1 : compareKeys(keysA[i] as K, keysB[j] as K);
      if (c < 0) visit(keysA[i] as K, valuesA[i], undefined);
      else if (c > 0) visit(keysB[j] as K, undefined, valuesB[j]);
      else if (valuesA[i] !== valuesB[j]) visit(keysA[i] as K, valuesA[i], valuesB[j]);
      if (c <= 0) i++;
      if (c >= 0) j++;
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.tree.entries();
  }
}
