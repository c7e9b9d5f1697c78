/**
 * `inspect FILE --html OUT.html`: one self-contained page (the audit's shell, html-page.ts) with a
 * timeline of the trace's events to select one from, the state tree after the selected event,
 * and the audit's accounting charts on the same axis of trace lines, marking the event. The
 * page holds the state of every event it covers as the first one's view and then each event's
 * patch (state-patches.ts), rebuilt in the page; a longer trace is covered `MAX_PAGE_EVENTS`
 * events at a time, from `--at`. Every string from the trace is placed as text, never as markup.
 */
import { type AuditOptions, auditFile } from '../audit.ts';
import { renderPage } from '../html-page.ts';
import { type At, eventRef, ordinalOf } from './document.ts';
import { type StatePatch, statePatch } from './state-patches.ts';
import { stateView } from './state-view.ts';
import { Timeline, type TimelineOptions } from './timeline.ts';
import type { EventRef, StateView } from './view-types.ts';

/** Events one page covers, at most: their patches are what makes the page large. */
export const MAX_PAGE_EVENTS = 5000;

export interface PageData {
  readonly file: string;
  readonly description: string;
  /** The events covered; the first is the position the page starts from (the header's, from the start). */
  readonly events: readonly EventRef[];
  /** The index in `events` selected when the page opens. */
  readonly selected: number;
  readonly base: StateView;
  /** `patches[i]` makes event i's state from event i - 1's; `patches[0]` is empty. */
  readonly patches: readonly StatePatch[];
  /** Events of the trace the page does not cover, before and after. */
  readonly before: number;
  readonly after: number;
  readonly pageSize: number;
  /** The audit's samples: the charts. */
  readonly audit: { readonly lines: readonly number[]; readonly series: readonly { readonly target: string; readonly kind: string; readonly values: readonly number[] }[] };
}

export async function pageData(file: string, at: At | null, options: TimelineOptions): Promise<PageData> {
  const timeline = await Timeline.open(file, options);
  try {
    const selected = at === null ? 0 : await ordinalOf(timeline, at);
    const first = Math.max(0, selected - MAX_PAGE_EVENTS / 2);
    const start = await timeline.at(first);
    const events: EventRef[] = [eventRef(start)];
    const patches: StatePatch[] = [{}];
    let prev = start.world;
    for await (const p of timeline.after(first)) {
      events.push(eventRef(p));
      patches.push(statePatch(prev, p.world));
      prev = p.world;
      if (events.length > MAX_PAGE_EVENTS) break;
    }
    await timeline.finish();
    const audit = await auditFile(file, auditOptions(options));
    const d = timeline.header.extra['description'];
    return {
      file: timeline.name,
      description: typeof d === 'string' ? d : '',
      events,
      selected: selected - first,
      base: stateView(start.world),
      patches,
      before: first,
      after: timeline.reached.ordinal - (first + events.length - 1),
      pageSize: Number(timeline.header.env.pageSize),
      audit: { lines: audit.lines, series: audit.series.map((s) => ({ target: s.target, kind: s.kind, values: s.values })) },
    };
  } finally {
    await timeline.close();
  }
}

function auditOptions(options: TimelineOptions): AuditOptions {
  // The timeline has told the header's warnings, and names the trace.
  const { checkpointEvery: _every, invariants: _invariants, invariantsFull: _full, name: _name, warn: _warn, ...rest } = options;
  return rest;
}

/** Rebuilds the state of any event from the patches, lists the events and draws the tree and the charts; runs in the page. */
const PAGE_SCRIPT = `
if (data.description) { const d = document.getElementById('description'); d.textContent = data.description; }
const cover = document.getElementById('cover');
if (data.before > 0 || data.after > 0) cover.textContent = 'This page covers ' + data.events.length + ' events; ' + data.before + ' before them and ' + data.after + ' after are left out (inspect --html --at LINE covers another stretch).';

// The state as maps by id, rebuilt from the nearest kept one.
const toMaps = (s) => ({
  kernel: s.kernel,
  processes: new Map(s.processes.map((p) => [p.pid, p])),
  users: s.users,
  contexts: new Map(s.contexts.map((c) => [c.id, { head: { id: c.id, name: c.name, holders: c.holders, account_mode: c.account_mode, vfio_ioas: c.vfio_ioas }, objects: new Map(c.objects.map((o) => [o.id, o])), pages: new Map(c.pages.map((p) => [p.id, p])) }])),
  devices: s.devices,
  vfio: s.vfio,
});
const setAll = (map, changes) => { const m = new Map(map); for (const [k, v] of Object.entries(changes)) { if (v === null) m.delete(Number(k)); else m.set(Number(k), v); } return m; };
const apply = (s, p) => {
  const n = { ...s };
  if (p.processes) n.processes = setAll(s.processes, p.processes);
  if (p.users) n.users = p.users;
  if (p.devices) n.devices = p.devices;
  if (p.vfio) n.vfio = p.vfio;
  if (p.kernel) n.kernel = p.kernel;
  if (p.contexts) {
    const m = new Map(s.contexts);
    for (const [k, c] of Object.entries(p.contexts)) {
      const id = Number(k);
      if (c === null) { m.delete(id); continue; }
      const was = m.get(id) || { head: null, objects: new Map(), pages: new Map() };
      m.set(id, { head: c.head || was.head, objects: c.objects ? setAll(was.objects, c.objects) : was.objects, pages: c.pages ? setAll(was.pages, c.pages) : was.pages });
    }
    n.contexts = m;
  }
  return n;
};
const byKey = (map) => [...map.keys()].sort((a, b) => a - b).map((k) => map.get(k));
const toView = (s) => ({
  kernel: s.kernel,
  processes: byKey(s.processes),
  users: s.users,
  contexts: byKey(s.contexts).map((c) => ({ ...c.head, objects: byKey(c.objects), pages: byKey(c.pages) })),
  devices: s.devices,
  vfio: s.vfio,
});
const KEEP = 64;
const kept = new Map([[0, toMaps(data.base)]]);
function stateAt(i) {
  let from = i - (i % KEEP);
  while (!kept.has(from)) from -= KEEP;
  let s = kept.get(from);
  for (let j = from + 1; j <= i; j++) { s = apply(s, data.patches[j]); if (j % KEEP === 0) kept.set(j, s); }
  return toView(s);
}
window.stateAt = stateAt;

// The state tree: every record a node, open two levels deep.
const label = (key, v) => {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    if (v.type !== undefined && v.id !== undefined) return v.type + ' ' + v.id;
    if (v.holders !== undefined && v.name !== undefined) return 'context ' + v.name;
    if (v.pid !== undefined && v.fds !== undefined) return 'pid ' + v.pid;
    if (v.fd !== undefined) return 'fd ' + v.fd + ' ' + v.kind;
    if (v.iova !== undefined && v.last !== undefined) return 'area ' + v.iova + '..' + v.last;
    if (v.start !== undefined && v.last !== undefined) return v.start + '..' + v.last;
    if (v.kind !== undefined && v.id !== undefined) return v.kind + ' ' + v.id;
  }
  return key;
};
function node(key, v, depth) {
  if (v === null || typeof v !== 'object') return el('div', key + ': ' + (v === null ? 'null' : String(v)), 'leaf');
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
  if (entries.length === 0) return el('div', key + ': ' + (Array.isArray(v) ? 'none' : '{}'), 'leaf');
  const d = el('details');
  d.open = depth < 2;
  d.append(el('summary', label(key, v)));
  for (const [k, x] of entries) d.append(node(k, x, depth + 1));
  return d;
}

// An event as the text form names it: its trace line, the capture line it was imported from, its seq.
const where = (e) => 'line ' + e.line + (e.source_line === undefined ? '' : ' (capture line ' + e.source_line + ')') + (e.seq === null ? '' : ' seq ' + e.seq);
const list = document.getElementById('events');
const rows = data.events.map((e, i) => {
  const li = el('li', where(e) + ' ' + (e.op === null ? 'header: before the first event' : e.op + ' ' + e.outcome + (e.errno ? ' ' + e.errno : '')), e.outcome === 'diverged' ? 'diverged' : undefined);
  li.dataset.index = String(i);
  li.dataset.line = String(e.line);
  li.addEventListener('click', () => select(i));
  list.append(li);
  return li;
});
const slider = document.getElementById('slider');
slider.max = String(data.events.length - 1);
slider.addEventListener('input', () => select(Number(slider.value)));

const charts = [];
let selected = -1;
function select(i) {
  if (i < 0 || i >= data.events.length) return;
  if (selected >= 0) rows[selected].classList.remove('selected');
  selected = i;
  rows[i].classList.add('selected');
  rows[i].scrollIntoView({ block: 'nearest' });
  slider.value = String(i);
  const e = data.events[i];
  document.getElementById('current').textContent = (e.op === null ? 'before the first event' : 'after ' + where(e) + ' ' + e.op + ' (' + e.outcome + (e.errno ? ' ' + e.errno : '') + ')');
  const tree = document.getElementById('tree');
  tree.replaceChildren(...Object.entries(stateAt(i)).map(([k, v]) => node(k, v, 0)));
  tree.dataset.index = String(i);
  for (const c of charts) c.redraw(false, false);
}
document.addEventListener('keydown', (ev) => { if (ev.key === 'ArrowRight') select(selected + 1); if (ev.key === 'ArrowLeft') select(selected - 1); });

// The audit's charts, one per kind of target, on the axis of trace lines, with the selected event marked.
const groups = new Map();
for (const s of data.audit.series) {
  if (!groups.has(s.kind)) groups.set(s.kind, []);
  groups.get(s.kind).push(s);
}
const mark = (u) => {
  if (selected < 0) return;
  const x = Math.round(u.valToPos(data.events[selected].line, 'x', true));
  const c = u.ctx;
  c.save(); c.strokeStyle = '#000'; c.setLineDash([4, 4]); c.beginPath(); c.moveTo(x, u.bbox.top); c.lineTo(x, u.bbox.top + u.bbox.height); c.stroke(); c.restore();
};
/** The last covered event at or before a trace line. */
const eventAtLine = (line) => { let best = 0; data.events.forEach((e, i) => { if (e.line <= line) best = i; }); return best; };
for (const [kind, series] of groups) {
  const box = el('div', undefined, 'chart');
  box.append(el('h3', kind));
  document.getElementById('charts').append(box);
  const opts = {
    width: 860, height: 180,
    scales: { x: { time: false } },
    axes: [{ label: 'trace line' }, { size: 80, values: (u, ticks) => ticks.map(fmt) }],
    series: [{ label: 'line' }].concat(series.map((s, i) => ({ label: s.target, stroke: palette[i % palette.length], width: 2, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => v == null ? '' : fmt(v) }))),
    hooks: { draw: [mark] },
  };
  const u = new uPlot(opts, [data.audit.lines].concat(series.map((s) => s.values)), box);
  u.over.addEventListener('click', () => { if (u.cursor.left >= 0) select(eventAtLine(u.posToVal(u.cursor.left, 'x'))); });
  charts.push(u);
}
if (data.audit.series.length === 0) document.getElementById('charts').append(el('p', 'Nothing was charged.'));
select(data.selected);
`;

const STYLES = `
#layout { display: grid; grid-template-columns: minmax(16em, 1fr) 3fr; gap: 1.5em; }
#events { max-height: 70vh; overflow-y: auto; font-family: monospace; font-size: 0.85em; padding-left: 3em; margin: 0; }
#events li { cursor: pointer; }
#events li.diverged { color: #b00; }
#events li.selected { background: #ffe08a; }
#slider { width: 100%; }
#tree { font-family: monospace; font-size: 0.85em; }
#tree details { margin-left: 1.2em; }
#tree .leaf { margin-left: 2.4em; }
.chart { margin-bottom: 1em; }
`;

const BODY = `
<p id="description" dir="auto"></p>
<p id="cover"></p>
<input type="range" id="slider" min="0" value="0" aria-label="event">
<div id="layout">
<section><h2>Events</h2><ol id="events" start="0"></ol></section>
<section><h2>State <span id="current"></span></h2><div id="tree"></div><h2>Charged memory over the trace</h2><div id="charts"></div></section>
</div>
`;

export function renderInspectHtml(data: PageData): string {
  return renderPage({ command: 'inspect', file: data.file, styles: STYLES, body: BODY, data, script: PAGE_SCRIPT });
}
