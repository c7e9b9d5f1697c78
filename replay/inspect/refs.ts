/**
 * Names of things in the state, shared by `--select` and the predicates of `bisect` (docs/inspect.md):
 *
 *   CTX     := PID ':' FD | '#' ID              a context, by an fd that holds it (or its internal id)
 *   OBJECT  := [CTX '/'] ID                     an object; without CTX, the one context that has that id
 *   WINDOW  := OBJECT '@' ADDR ['..' ADDR | '+' LENGTH]   IOVAs [first, last] of an IOAS
 *
 * Numbers are decimal or 0x hex.
 */
import type { Ctx, IommuObject, World } from '../../src/model/world.ts';
import { U64_MAX } from '../../src/model/ranges.ts';
import { clip } from '../../events/quote.ts';
import { ContextNames, contextByRef } from './context-names.ts';
import { InspectError } from './inspect-error.ts';

export type CtxRef = { readonly pid: number; readonly fd: number } | { readonly id: number };
export interface ObjectRef {
  readonly ctx: CtxRef | null;
  readonly id: number;
}
export interface WindowRef extends ObjectRef {
  readonly first: bigint;
  readonly last: bigint;
}

const NUMBER = /^(0x[0-9a-fA-F]+|[0-9]+)$/;

export function parseNumber(text: string, what: string): bigint {
  if (!NUMBER.test(text)) throw new InspectError(`${what}: ${JSON.stringify(clip(text))} is not a number (decimal or 0x hex)`);
  const n = BigInt(text);
  if (n > U64_MAX) throw new InspectError(`${what}: ${clip(text)} is past 2^64 - 1`);
  return n;
}

function smallNumber(text: string, what: string): number {
  const n = parseNumber(text, what);
  if (n > BigInt(2 ** 31 - 1)) throw new InspectError(`${what}: ${clip(text)} is past 2^31 - 1`);
  return Number(n);
}

export function parseCtxRef(text: string): CtxRef {
  if (text.startsWith('#')) return { id: smallNumber(text.slice(1), 'context #ID') };
  const [pid, fd, more] = text.split(':');
  if (pid === undefined || fd === undefined || more !== undefined) throw new InspectError(`${JSON.stringify(clip(text))} is not a context: PID:FD or #ID`);
  return { pid: smallNumber(pid, 'context PID'), fd: smallNumber(fd, 'context FD') };
}

export function parseObjectRef(text: string): ObjectRef {
  const slash = text.lastIndexOf('/');
  const ctx = slash < 0 ? null : parseCtxRef(text.slice(0, slash));
  return { ctx, id: smallNumber(text.slice(slash + 1), 'object ID') };
}

export function parseWindowRef(text: string): WindowRef {
  const at = text.indexOf('@');
  if (at < 0) throw new InspectError(`${JSON.stringify(clip(text))} names no IOVA: IOAS@ADDR, IOAS@FIRST..LAST or IOAS@ADDR+LENGTH`);
  const object = parseObjectRef(text.slice(0, at));
  const range = text.slice(at + 1);
  const dots = range.indexOf('..');
  const plus = range.indexOf('+');
  let first: bigint;
  let last: bigint;
  if (dots >= 0) {
    first = parseNumber(range.slice(0, dots), 'IOVA window first');
    last = parseNumber(range.slice(dots + 2), 'IOVA window last');
  } else if (plus >= 0) {
    first = parseNumber(range.slice(0, plus), 'IOVA window start');
    const length = parseNumber(range.slice(plus + 1), 'IOVA window length');
    if (length === 0n) throw new InspectError('IOVA window length: 0 holds no IOVA');
    last = first + length - 1n;
  } else {
    first = parseNumber(range, 'IOVA');
    last = first;
  }
  if (last < first || last > U64_MAX) throw new InspectError(`IOVA window ${clip(range)} is empty or past 2^64 - 1`);
  return { ...object, first, last };
}

export function formatCtxRef(ref: CtxRef): string {
  return 'id' in ref ? `#${ref.id}` : `${ref.pid}:${ref.fd}`;
}

export function formatObjectRef(ref: ObjectRef): string {
  return ref.ctx === null ? `${ref.id}` : `${formatCtxRef(ref.ctx)}/${ref.id}`;
}

/** Every context that `ref` may name: the one its CTX names, or every context when it has none. */
export function candidateContexts(world: World, ctx: CtxRef | null): Ctx[] {
  if (ctx === null) return [...world.contexts.values()];
  const id = contextByRef(world, ctx);
  const found = id === null ? undefined : world.contexts.get(id);
  return found === undefined ? [] : [found];
}

/** The objects `ref` may name (several only when it names no context and several contexts have the id). */
export function findObjects(world: World, ref: ObjectRef): { ctx: Ctx; obj: IommuObject }[] {
  const out: { ctx: Ctx; obj: IommuObject }[] = [];
  for (const ctx of candidateContexts(world, ref.ctx)) {
    const obj = ctx.objects.get(ref.id);
    if (obj !== undefined) out.push({ ctx, obj });
  }
  return out;
}

/** The one context `ref` names, or why there is none; `where` says at which event. */
export function resolveContext(world: World, ref: CtxRef, where: string): Ctx {
  const [ctx] = candidateContexts(world, ref);
  if (ctx !== undefined) return ctx;
  const names = new ContextNames(world).all();
  throw new InspectError(`no context ${formatCtxRef(ref)} ${where} (${names.length === 0 ? 'there is none' : `contexts: ${names.join(', ')}`})`);
}

/** The one object `ref` names, or why there is none. */
export function resolveObject(world: World, ref: ObjectRef, where: string): { ctx: Ctx; obj: IommuObject } {
  if (ref.ctx !== null) resolveContext(world, ref.ctx, where);
  const found = findObjects(world, ref);
  const [one, another] = found;
  if (one === undefined) throw new InspectError(`no object ${formatObjectRef(ref)} ${where}`);
  if (another !== undefined) {
    const names = new ContextNames(world);
    const which = found.map((f) => `${names.name(f.ctx.id)}/${ref.id}`).join(', ');
    throw new InspectError(`object ${ref.id} ${where} is in several contexts: name one of ${which}`);
  }
  return one;
}
