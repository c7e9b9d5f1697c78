/**
 * `--select`: the state narrowed to one context (`1:3`), one object (`1:3/5`, or `5` when one
 * context has it) or an IOVA window of one IOAS (`1:3/1@0x100000..0x1fffff`), refs.ts's names.
 */
import { intersecting } from '../../src/model/ranges.ts';
import type { Ctx, IommuObject, Ioas, World } from '../../src/model/world.ts';
import { ContextNames } from './context-names.ts';
import { InspectError } from './inspect-error.ts';
import { areaView, hex, objectView, pagesView, rangeView } from './object-view.ts';
import { type CtxRef, type ObjectRef, type WindowRef, parseCtxRef, parseObjectRef, parseWindowRef, resolveContext, resolveObject } from './refs.ts';
import { contextView } from './state-view.ts';
import type { PagesView, SelectionView } from './view-types.ts';

export type Selector =
  | { readonly kind: 'context'; readonly ctx: CtxRef }
  | { readonly kind: 'object'; readonly ref: ObjectRef }
  | { readonly kind: 'window'; readonly ref: WindowRef };

export function parseSelector(text: string): Selector {
  const s = text.trim();
  if (s.includes('@')) return { kind: 'window', ref: parseWindowRef(s) };
  if (!s.includes('/') && (s.includes(':') || s.startsWith('#'))) return { kind: 'context', ctx: parseCtxRef(s) };
  return { kind: 'object', ref: parseObjectRef(s) };
}

/** The pages objects the object's areas or pinned items use, in id order. */
function pagesOf(ctx: Ctx, ids: Iterable<number>): PagesView[] {
  return [...new Set(ids)]
    .sort((a, b) => a - b)
    .flatMap((id) => {
      const pages = ctx.pages.get(id);
      return pages === undefined ? [] : [pagesView(pages)];
    });
}

function objectPages(ctx: Ctx, obj: IommuObject): PagesView[] {
  if (obj.type === 'ioas') return pagesOf(ctx, [...obj.iopt.areas.values()].map((a) => a.pages));
  if (obj.type === 'access') return pagesOf(ctx, [...obj.items.values()].flatMap((i) => i.holds.map((h) => h.pages)));
  return [];
}

/** The parts of an IOAS that meet IOVAs `[first, last]`. */
export function ioasWindow(ctx: Ctx, ioas: Ioas, first: bigint, last: bigint) {
  const meets = (r: { start: bigint; last: bigint }): boolean => r.start <= last && r.last >= first;
  const areas = [...intersecting(ioas.iopt.areas, first, last)];
  return {
    areas: areas.map(areaView),
    allowed: [...ioas.iopt.allowed.values()].filter(meets).map(rangeView),
    reserved: ioas.iopt.reserved.filter(meets).map((r) => ({ ...rangeView(r), owner: r.owner })),
    pages: pagesOf(ctx, areas.map((a) => a.pages)),
  };
}

export function select(world: World, selector: Selector, where: string): SelectionView {
  const names = new ContextNames(world);
  switch (selector.kind) {
    case 'context':
      return { kind: 'context', context: contextView(resolveContext(world, selector.ctx, where), names) };
    case 'object': {
      const { ctx, obj } = resolveObject(world, selector.ref, where);
      return { kind: 'object', context: names.name(ctx.id), object: objectView(obj), pages: objectPages(ctx, obj) };
    }
    case 'window': {
      const { ref } = selector;
      const { ctx, obj } = resolveObject(world, ref, where);
      if (obj.type !== 'ioas') throw new InspectError(`object ${ref.id} ${where} is a ${obj.type}, not an IOAS`);
      return {
        kind: 'window',
        context: names.name(ctx.id),
        ioas: obj.id,
        window: { start: hex(ref.first), last: hex(ref.last) },
        ...ioasWindow(ctx, obj, ref.first, ref.last),
      };
    }
  }
}
