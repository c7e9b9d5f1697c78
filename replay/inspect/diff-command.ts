/** `iommufd-model diff FILE A B [--json]`: what changed from the event on line A to the one on line B. */
import { clip } from '../../events/quote.ts';
import { type DiffDocument, type DiffView, diffWorlds } from './diff.ts';
import { type At, eventRef, ordinalOf, parseAt } from './document.ts';
import { InspectError } from './inspect-error.ts';
import { eventText, renderNodes, type TreeNode } from './text-tree.ts';
import { Timeline, type TimelineOptions } from './timeline.ts';

/** The diff between two positions of an open timeline; `A` after `B` is refused. */
export async function diffOn(timeline: Timeline, a: At, b: At): Promise<DiffDocument> {
  const from = await ordinalOf(timeline, a);
  const to = await ordinalOf(timeline, b);
  if (from > to) throw new InspectError(`diff ${describe(a)} ${describe(b)}: the first event comes after the second (A > B)`);
  const pa = await timeline.at(from);
  const pb = await timeline.at(to);
  return { file: timeline.name, from: eventRef(pa), to: eventRef(pb), changes: diffWorlds(pa.world, pb.world) };
}

const describe = (at: At): string => ('line' in at ? `${at.line}` : `seq:${at.seq}`);

export async function diffCommand(file: string, a: string, b: string, options: TimelineOptions & { readonly json: boolean }): Promise<string> {
  const [atA, atB] = [parseAt(a), parseAt(b)];
  const timeline = await Timeline.open(file, options);
  try {
    const doc = await diffOn(timeline, atA, atB);
    return options.json ? JSON.stringify(doc) : formatDiff(doc);
  } finally {
    await timeline.close();
  }
}

const list = <T>(title: string, items: readonly T[], text: (t: T) => string): TreeNode[] =>
  items.length === 0 ? [] : [{ text: title, children: items.map((i) => ({ text: text(i) })) }];
const moved = <T>(name: string, c: { from: T; to: T } | undefined): string => (c === undefined ? '' : ` ${name} ${String(c.from)} -> ${String(c.to)}`);

export function diffNodes(d: DiffView): TreeNode[] {
  const s = (t: string): string => clip(t, Infinity);
  const nodes = [
    ...list('processes created', d.processes.created, (pid) => `pid ${pid}`),
    ...list('processes exited', d.processes.exited, (pid) => `pid ${pid}`),
    ...list('fds opened', d.processes.fds_opened, (f) => `pid ${f.pid} fd ${f.fd}`),
    ...list('fds closed', d.processes.fds_closed, (f) => `pid ${f.pid} fd ${f.fd}`),
    ...list('contexts opened', d.contexts.opened, s),
    ...list('contexts closed', d.contexts.closed, s),
    ...list('objects created', d.objects.created, (o) => `${o.object} ${o.type}`),
    ...list('objects destroyed', d.objects.destroyed, (o) => `${o.object} ${o.type}`),
    ...list('objects changed', d.objects.changed, (o) => `${o.object} ${o.type}:${moved('state', o.state)}${moved('users', o.users)}`),
    ...list('areas added', d.areas.added, (a) => `${a.ioas} ${a.area.iova}..${a.area.last} pages ${a.area.pages}`),
    ...list('areas removed', d.areas.removed, (a) => `${a.ioas} ${a.area.iova}..${a.area.last} pages ${a.area.pages}`),
    ...list('areas split', d.areas.split, (a) => `${a.ioas} ${a.was.iova}..${a.was.last} into ${a.into.map((p) => `${p.iova}..${p.last}`).join(', ')}`),
    ...list('pages objects created', d.pages.created, (p) => `${p.pages}: pinned ${p.pinned_pages} charged ${p.charged_pages}`),
    ...list('pages objects gone', d.pages.destroyed, (p) => `${p.pages}: pinned ${p.pinned_pages} charged ${p.charged_pages}`),
    ...list('pins', d.pages.changed, (p) => `${p.pages}:${moved('pinned', p.pinned_pages)}${moved('charged', p.charged_pages)}${moved('areas', p.area_refs)}`),
    ...list('counters', [...d.processes.counters.map((c) => `pid ${c.pid}${moved('locked_vm', c.locked_vm)}${moved('pinned_vm', c.pinned_vm)}`), ...d.users.map((u) => `uid ${u.uid}${moved('locked_vm', u.locked_vm)}`)], (t) => t),
  ];
  return nodes.length === 0 ? [{ text: 'nothing changed' }] : nodes;
}

export function formatDiff(doc: DiffDocument): string {
  return [`${clip(doc.file, Infinity)}: from ${eventText(doc.from)} to ${eventText(doc.to)}`, ...renderNodes(diffNodes(doc.changes), 1)].join('\n');
}
