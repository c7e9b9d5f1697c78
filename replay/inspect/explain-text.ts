/** A divergence's explanation (explain.ts) as lines under it in the text report. */
import type { ExplainedObject, Explanation } from './explain.ts';
import { allowed, area, object, pages, renderNodes, reserved, type TreeNode } from './text-tree.ts';

function explanationNodes(e: Explanation): TreeNode[] {
  const p = e.process;
  const head =
    `context ${e.context ?? '-'}` +
    (p === null
      ? ''
      : `; pid ${p.pid} uid ${p.uid} rlimit_memlock ${p.rlimit_memlock ?? 'unlimited'} locked_vm ${p.locked_vm} pinned_vm ${p.pinned_vm} user_locked_vm ${p.user_locked_vm}`);
  return [
    { text: head },
    ...e.objects.map((o): TreeNode => (o.object === null ? { text: `${o.field} ${o.id}: no such object` } : { text: `${o.field} ${o.id}:`, children: [objectNode(o.object)] })),
    ...e.windows.map((w): TreeNode => ({
      text: `ioas ${w.ioas} around ${w.window.start}..${w.window.last} (${w.fields}):`,
      children: [...(w.areas.length === 0 ? [{ text: 'no areas' }] : w.areas.map(area)), ...w.allowed.map(allowed), ...w.reserved.map(reserved), ...w.pages.map(pages)],
    })),
  ];
}

function objectNode(o: ExplainedObject): TreeNode {
  if (!('area_count' in o)) return object(o);
  const node = object({ ...o, areas: [] });
  return { ...node, text: `${node.text} areas ${o.area_count}` };
}

/** The lines, indented `depth` levels. */
export function explanationLines(e: Explanation, depth: number): string[] {
  return renderNodes(explanationNodes(e), depth);
}
