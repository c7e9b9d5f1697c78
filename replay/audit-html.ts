/**
 * The audit as one self-contained HTML page: uPlot and its stylesheet inlined, the data in a
 * JSON block, every string from the trace placed with textContent so none of it is markup.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AuditReport } from './audit.ts';

const require = createRequire(import.meta.url);

function asset(path: string): string {
  return readFileSync(require.resolve(path), 'utf8');
}

/** JSON safe inside a <script> element: no `<`, so no `</script>` or `<!--` can end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** First strong isolate … pop directional isolate: a file name's direction stays its own (<title> takes no <bdi>). */
const isolate = (s: string): string => `\u2068${s}\u2069`;

/**
 * uPlot formats numbers with `new Intl.NumberFormat(navigator.language)` as it loads, and a
 * browser under a C or POSIX locale reports a language Intl rejects (`en-US@posix`), so the chart
 * library would not load at all. It is given its own navigator, whose language is fixed.
 */
const withFixedLocale = (library: string, global: string): string =>
  `var ${global} = (function (navigator) {\n${library}\nreturn ${global};\n})(new Proxy(window.navigator, { get: (nav, key) => {
  if (key === 'language') return 'en-US';
  if (key === 'languages') return ['en-US'];
  const value = Reflect.get(nav, key);
  return typeof value === 'function' ? value.bind(nav) : value;
} }));`;

/** Draws the charts and tables from the JSON block; runs in the page. */
const PAGE_SCRIPT = `
const data = JSON.parse(document.getElementById('audit-data').textContent);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const fmt = (pages) => { const b = pages * data.pageSize; return b >= 1073741824 ? (b / 1073741824).toFixed(2) + ' GiB' : b >= 1048576 ? (b / 1048576).toFixed(2) + ' MiB' : (b / 1024) + ' KiB'; };
document.getElementById('title').append('iommufd-model audit: ', el('bdi', data.file));
const sum = document.getElementById('summary');
if (data.description) { const d = el('p', data.description, 'description'); d.dir = 'auto'; sum.append(d); }
if (data.sampleStride) sum.append(el('p', 'The charts keep one change in ' + data.sampleStride + ', and the last; peaks are over every change.'));
const r = data.replay;
sum.append(el('p', r.events + ' events: ' + r.ok + ' ok, ' + r.diverged + ' diverged, ' + r.ran + ' ran, ' + r.unsupported + ' unsupported; ' + data.violations.length + ' invariant violations'));
const c = data.comparison;
sum.append(el('p', 'Pinned memory of all processes, iommufd vs VFIO type1: peak ' + fmt(c.iommufdPeak) + ' vs ' + fmt(c.type1Peak) + '; at the end ' + fmt(c.iommufdFinal) + ' vs ' + fmt(c.type1Final) + '.'));
sum.append(el('p', data.leaks.length === 0 ? 'Leaks: none.' : 'Leaks: ' + data.leaks.map((l) => l.target + ' ' + fmt(l.pages)).join(', ')));
const charts = document.getElementById('charts');
const x = data.lines;
const groups = new Map();
for (const s of data.series) {
  const owner = s.target.replace(/ (VmLck|VmPin|type1 locked_vm)$/, '');
  if (!groups.has(owner)) groups.set(owner, []);
  groups.get(owner).push(s);
}
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
for (const [owner, list] of groups) {
  const box = el('div', undefined, 'chart');
  box.append(el('h3', owner));
  charts.append(box);
  const opts = {
    width: 900, height: 220,
    scales: { x: { time: false } },
    axes: [{ label: 'trace line' }, { size: 80, values: (u, ticks) => ticks.map(fmt) }],
    series: [{ label: 'line' }].concat(list.map((s, i) => ({ label: s.target, stroke: palette[i % palette.length], width: 2, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => v == null ? '' : fmt(v) }))),
  };
  new uPlot(opts, [x].concat(list.map((s) => s.values)), box);
}
const table = document.getElementById('pages');
const head = el('tr');
for (const h of ['ctx', 'pages', 'kind', 'start', 'length', 'owner pid', 'uid', 'accounting', 'areas', 'max pinned', 'lines']) head.append(el('th', h));
table.append(head);
for (const p of data.pages) {
  const tr = el('tr');
  for (const v of [p.ctx, p.id, p.kind, p.start, p.length, p.owner, p.uid, p.account, p.areas, fmt(p.maxPinned), p.firstLine + '-' + p.lastLine]) tr.append(el('td', v));
  table.append(tr);
}
if (data.pagesOmitted) document.getElementById('pages-omitted').textContent = data.pagesOmitted + ' more pages objects that went away are not listed (audit --history lists them).';
const viol = document.getElementById('violations');
for (const v of data.violations) viol.append(el('li', 'line ' + v.line + ' ' + v.op + ': ' + v.invariant + ': ' + v.detail));
if (data.violations.length === 0) viol.append(el('li', 'none'));
document.body.dataset.ready = '1';
`;

export function renderAuditHtml(report: AuditReport): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>iommufd-model audit: ${escapeHtml(isolate(report.file))}</title>
<style>${asset('uplot/dist/uPlot.min.css')}
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { overflow-wrap: anywhere; font-size: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
.chart { margin-bottom: 1.5em; }
</style>
</head>
<body>
<h1 id="title" dir="auto"></h1>
<section id="summary"></section>
<h2>Charged memory over the trace</h2>
<section id="charts"></section>
<h2>Pages objects</h2>
<table id="pages"></table>
<p id="pages-omitted"></p>
<h2>Invariant violations</h2>
<ul id="violations"></ul>
<script type="application/json" id="audit-data">${scriptJson(report)}</script>
<script>${withFixedLocale(asset('uplot/dist/uPlot.iife.min.js'), 'uPlot')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
