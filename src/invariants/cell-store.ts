/**
 * The violations standing in a snapshot, kept per cell: the smallest unit a state invariant
 * is checked on (one area, one entry of an IOAS's domain list, one pages object, ...). A cell
 * is addressed by a path of numbers whose order is the order the whole-snapshot check visits
 * the subjects in, so the violations found in several cells come out in that order too.
 */
import { type Violation, violationKey } from './state-checks.ts';

export type CellPath = readonly (number | bigint)[];

/** How many leading steps of a path name the subject (an object, a pages object, a pid, a uid) its cell belongs to. */
const SUBJECT_STEPS = 4;

function keyOf(path: CellPath): string {
  let key = '';
  for (const step of path) key += `${step},`;
  return key;
}

function comparePaths(a: CellPath, b: CellPath): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number | bigint;
    const y = b[i] as number | bigint;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

interface Cell {
  readonly path: CellPath;
  readonly violations: readonly Violation[];
}

export class CellStore {
  /** Cells with at least one violation, by key. */
  private readonly cells = new Map<string, Cell>();
  /** The keys of the violating cells of each subject. */
  private readonly subjects = new Map<string, Set<string>>();
  /** How many cells each standing violation stands in. */
  private readonly standing = new Map<string, number>();
  /** Cells to check again, by key. */
  private dirty = new Map<string, CellPath>();

  get hasStanding(): boolean {
    return this.standing.size > 0;
  }

  mark(path: CellPath): void {
    this.dirty.set(keyOf(path), path);
  }

  /** Marks every violating cell. */
  markAll(): void {
    for (const [key, cell] of this.cells) this.dirty.set(key, cell.path);
  }

  /** Marks every violating cell of a subject, or only those whose path continues with `section`. */
  markSubject(subject: CellPath, section?: number): void {
    for (const key of this.subjects.get(keyOf(subject)) ?? []) {
      const cell = this.cells.get(key);
      if (cell !== undefined && (section === undefined || cell.path[SUBJECT_STEPS] === section)) this.dirty.set(key, cell.path);
    }
  }

  /** Whether some cell of the subject stands in violation of `invariant`. */
  violates(subject: CellPath, invariant: string): boolean {
    for (const key of this.subjects.get(keyOf(subject)) ?? []) {
      if (this.cells.get(key)?.violations.some((v) => v.invariant === invariant) === true) return true;
    }
    return false;
  }

  /**
   * Checks every marked cell again with `check` and returns the violations that did not stand
   * before (in visiting order): a lasting violation is reported once, where it began.
   */
  settle(check: (path: CellPath) => readonly Violation[]): Violation[] {
    const dirty = this.dirty;
    this.dirty = new Map();
    const found: { path: CellPath; at: number; violation: Violation }[] = [];
    const changed: { key: string; path: CellPath; violations: readonly Violation[] }[] = [];
    for (const [key, path] of dirty) {
      const violations = check(path);
      if (violations.length === 0 && !this.cells.has(key)) continue;
      violations.forEach((v, at) => {
        if (!this.standing.has(violationKey(v))) found.push({ path, at, violation: v });
      });
      changed.push({ key, path, violations });
    }
    for (const c of changed) this.store(c.key, c.path, c.violations);
    found.sort((a, b) => comparePaths(a.path, b.path) || a.at - b.at);
    return found.map((f) => f.violation);
  }

  private store(key: string, path: CellPath, violations: readonly Violation[]): void {
    const subject = keyOf(path.slice(0, SUBJECT_STEPS));
    for (const v of this.cells.get(key)?.violations ?? []) {
      const k = violationKey(v);
      const n = (this.standing.get(k) ?? 0) - 1;
      if (n === 0) this.standing.delete(k);
      else this.standing.set(k, n);
    }
    for (const v of violations) this.standing.set(violationKey(v), (this.standing.get(violationKey(v)) ?? 0) + 1);
    if (violations.length > 0) {
      this.cells.set(key, { path, violations });
      const keys = this.subjects.get(subject) ?? new Set<string>();
      keys.add(key);
      this.subjects.set(subject, keys);
      return;
    }
    this.cells.delete(key);
    const keys = this.subjects.get(subject);
    keys?.delete(key);
    if (keys?.size === 0) this.subjects.delete(subject);
  }
}
