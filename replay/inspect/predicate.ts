/**
 * The predicates of `bisect --until` and the interactive `find` (docs/inspect.md), read by a
 * small recursive-descent parser; nothing is evaluated as code.
 *
 *   predicate := conj ('or' conj)*
 *   conj      := unary ('and' unary)*
 *   unary     := 'not' unary | atom
 *   atom      := 'invariant' [NAME]                    the event broke an invariant (that one)
 *              | COUNTER [pid=N | uid=N] CMP VALUE     a counter in bytes, as CHECK reads it
 *              | 'exists' OBJECT                      an object is there
 *              | 'mapped' WINDOW                      areas of an IOAS cover those IOVAs
 *   COUNTER   := locked_vm | pinned_vm (of a pid) | user_locked_vm (of a uid)
 *   CMP       := < | <= | > | >= | == | !=
 *
 * OBJECT and WINDOW are refs.ts's names; numbers are decimal or 0x hex. A counter of a process
 * that is not there has no value: the comparison is false.
 */
import { clip } from '../../events/quote.ts';
import { intersecting } from '../../src/model/ranges.ts';
import type { World } from '../../src/model/world.ts';
import type { ViolationRecord } from '../replayer.ts';
import { ContextNames } from './context-names.ts';
import { InspectError } from './inspect-error.ts';
import { hex } from './object-view.ts';
import { type ObjectRef, type WindowRef, findObjects, formatObjectRef, parseNumber, parseObjectRef, parseWindowRef } from './refs.ts';

const COMPARISONS = ['<=', '>=', '==', '!=', '<', '>'] as const;
type Comparison = (typeof COMPARISONS)[number];
const COUNTERS = ['locked_vm', 'pinned_vm', 'user_locked_vm'] as const;
type Counter = (typeof COUNTERS)[number];

export type Predicate =
  | { readonly kind: 'invariant'; readonly name: string | null }
  | { readonly kind: 'counter'; readonly counter: Counter; readonly subject: number | null; readonly cmp: Comparison; readonly value: bigint }
  | { readonly kind: 'exists'; readonly ref: ObjectRef }
  | { readonly kind: 'mapped'; readonly ref: WindowRef }
  | { readonly kind: 'not'; readonly operand: Predicate }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Predicate[] };

/** What a predicate is evaluated on: the state after an event, and what the event broke. */
export interface Moment {
  readonly world: World;
  readonly violations: readonly ViolationRecord[];
}

class Parser {
  private at = 0;
  constructor(
    private readonly tokens: readonly string[],
    private readonly text: string,
  ) {}

  private fail(why: string): never {
    throw new InspectError(`predicate ${JSON.stringify(clip(this.text))}: ${why}`);
  }

  private peek(): string | undefined {
    return this.tokens[this.at];
  }

  private take(what: string): string {
    const t = this.tokens[this.at++];
    if (t === undefined) this.fail(`ends where ${what} should be`);
    return t;
  }

  parse(): Predicate {
    if (this.tokens.length === 0) this.fail('is empty');
    const p = this.or();
    const rest = this.peek();
    if (rest !== undefined) this.fail(`unexpected ${JSON.stringify(clip(rest))} (join predicates with and, or)`);
    return p;
  }

  private or(): Predicate {
    const operands = [this.and()];
    while (this.peek() === 'or') {
      this.at++;
      operands.push(this.and());
    }
    return operands.length === 1 ? (operands[0] as Predicate) : { kind: 'or', operands };
  }

  private and(): Predicate {
    const operands = [this.unary()];
    while (this.peek() === 'and') {
      this.at++;
      operands.push(this.unary());
    }
    return operands.length === 1 ? (operands[0] as Predicate) : { kind: 'and', operands };
  }

  private unary(): Predicate {
    if (this.peek() !== 'not') return this.atom();
    this.at++;
    return { kind: 'not', operand: this.unary() };
  }

  private atom(): Predicate {
    const word = this.take('a predicate');
    switch (word) {
      case 'invariant': {
        const name = this.peek();
        if (name === undefined || ['and', 'or'].includes(name)) return { kind: 'invariant', name: null };
        this.at++;
        if (!/^[a-z0-9-]+$/.test(name)) this.fail(`${JSON.stringify(clip(name))} is no invariant name (such as charge-within-limit)`);
        return { kind: 'invariant', name };
      }
      case 'exists':
        return { kind: 'exists', ref: this.ref(parseObjectRef, 'an object ([PID:FD/]ID)') };
      case 'mapped':
        return { kind: 'mapped', ref: this.ref(parseWindowRef, 'an IOVA of an IOAS ([PID:FD/]ID@IOVA)') };
      default:
        if ((COUNTERS as readonly string[]).includes(word)) return this.counter(word as Counter);
        return this.fail(`${JSON.stringify(clip(word))} is no predicate: invariant, exists, mapped, ${COUNTERS.join(', ')}, not`);
    }
  }

  private ref<T>(parse: (text: string) => T, what: string): T {
    const text = this.take(what);
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof InspectError) this.fail(e.message);
      throw e;
    }
  }

  private counter(counter: Counter): Predicate {
    const key = counter === 'user_locked_vm' ? 'uid' : 'pid';
    let subject: number | null = null;
    const next = this.peek();
    if (next?.includes('=') === true && !COMPARISONS.includes(next as Comparison)) {
      this.at++;
      const [k, v] = next.split('=');
      if (k !== key || v === undefined || !/^\d+$/.test(v)) this.fail(`${counter} takes ${key}=N, not ${JSON.stringify(clip(next))}`);
      subject = Number(v);
    }
    const cmp = this.take('a comparison');
    if (!COMPARISONS.includes(cmp as Comparison)) this.fail(`${JSON.stringify(clip(cmp))} is no comparison: ${COMPARISONS.join(' ')}`);
    const value = this.take('a value');
    try {
      return { kind: 'counter', counter, subject, cmp: cmp as Comparison, value: parseNumber(value, `${counter} value`) };
    } catch (e) {
      if (e instanceof InspectError) this.fail(e.message);
      throw e;
    }
  }
}

/** Spaces separate tokens; a comparison needs none around it (`locked_vm pid=1 >=0x1000`). */
function tokens(text: string): string[] {
  return text
    .replace(/(<=|>=|==|!=|<|>)/g, ' $1 ')
    .split(/\s+/)
    .filter((t) => t !== '');
}

export function parsePredicate(text: string): Predicate {
  return new Parser(tokens(text), text).parse();
}

/** Whether the predicate reads what events broke: the replay must check the invariants. */
export function needsInvariants(p: Predicate): boolean {
  switch (p.kind) {
    case 'invariant':
      return true;
    case 'not':
      return needsInvariants(p.operand);
    case 'and':
    case 'or':
      return p.operands.some(needsInvariants);
    default:
      return false;
  }
}

/** A counter's value in bytes, as `CHECK` reads it; null for a process that is not there. */
function counterValue(world: World, counter: Counter, subject: number | null): bigint | null {
  const first = world.processes.get(world.firstPid);
  if (counter === 'user_locked_vm') {
    const uid = subject ?? first?.uid;
    return uid === undefined ? null : (world.userLockedVm.get(uid) ?? 0n) * world.config.pageSize;
  }
  const process = world.processes.get(subject ?? world.firstPid);
  if (process === undefined) return null;
  return (counter === 'pinned_vm' ? process.pinnedVm : process.lockedVm) * world.config.pageSize;
}

function compare(a: bigint, cmp: Comparison, b: bigint): boolean {
  switch (cmp) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** Whether areas of one IOAS `ref` names cover every IOVA of its window. */
function mapped(world: World, ref: WindowRef): boolean {
  return findObjects(world, ref).some(({ obj }) => {
    if (obj.type !== 'ioas') return false;
    let next = ref.first;
    for (const area of intersecting(obj.iopt.areas, ref.first, ref.last)) {
      if (area.start > next) return false;
      next = area.last + 1n;
      if (next > ref.last) return true;
    }
    return false;
  });
}

export function holds(p: Predicate, m: Moment): boolean {
  switch (p.kind) {
    case 'invariant':
      return m.violations.some((v) => p.name === null || v.invariant === p.name);
    case 'counter': {
      const value = counterValue(m.world, p.counter, p.subject);
      return value !== null && compare(value, p.cmp, p.value);
    }
    case 'exists':
      return findObjects(m.world, p.ref).length > 0;
    case 'mapped':
      return mapped(m.world, p.ref);
    case 'not':
      return !holds(p.operand, m);
    case 'and':
      return p.operands.every((q) => holds(q, m));
    case 'or':
      return p.operands.some((q) => holds(q, m));
  }
}

/** What the atoms of `p` read in `m`, one line each: why it holds there. */
export function witness(p: Predicate, m: Moment): string[] {
  switch (p.kind) {
    case 'invariant':
      return m.violations.filter((v) => p.name === null || v.invariant === p.name).map((v) => `invariant ${v.invariant} violated: ${clip(v.detail, 500)}`);
    case 'counter': {
      const value = counterValue(m.world, p.counter, p.subject);
      const whose = p.subject === null ? '' : ` of ${p.counter === 'user_locked_vm' ? 'uid' : 'pid'} ${p.subject}`;
      return [`${p.counter}${whose} is ${value === null ? 'not there (no such process)' : hex(value)}`];
    }
    case 'exists': {
      const names = new ContextNames(m.world);
      const found = findObjects(m.world, p.ref);
      return found.length === 0 ? [`no object ${formatObjectRef(p.ref)}`] : found.map(({ ctx, obj }) => `${names.name(ctx.id)}/${obj.id} exists (${obj.type})`);
    }
    case 'mapped': {
      const names = new ContextNames(m.world);
      return findObjects(m.world, p.ref).flatMap(({ ctx, obj }) =>
        obj.type !== 'ioas'
          ? []
          : [...intersecting(obj.iopt.areas, p.ref.first, p.ref.last)].map((a) => `${names.name(ctx.id)}/${obj.id} area ${hex(a.start)}..${hex(a.last)} pages ${a.pages}`),
      );
    }
    case 'not':
      return witness(p.operand, m);
    case 'and':
    case 'or':
      return p.operands.flatMap((q) => witness(q, m));
  }
}
