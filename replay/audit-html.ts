/** The audit as one self-contained HTML page (html-page.ts): its charts and tables drawn from the report. */
import type { AuditReport } from './audit.ts';
import { renderPage } from './html-page.ts';

/** Draws the charts and tables from the JSON block; runs in the page. */
const PAGE_SCRIPT = `
const sum = document.getElementById('summary');
if (data.description) { const d = el('p', data.description, 'description'); d.dir = 'auto'; sum.append(d); }
if (data.sampleStride) sum.append(el('p', 'The charts keep one change in ' + data.sampleStride + ', and the last; peaks are over every change.'));
const r = data.replay;
sum.append(el('p', r.events + ' events: ' + r.ok + ' ok, ' + r.diverged + ' diverged, ' + r.ran + ' ran, ' + r.unsupported + ' unsupported; ' + data.violations.length + ' invariant violations'));
sum.append(el('p', data.leaks.length === 0 ? 'Leaks: none.' : 'Leaks: ' + data.leaks.map((l) => l.target + ' ' + fmt(l.pages)).join(', ')));
if (data.leftByQuirks.length > 0) sum.append(el('p', 'Left charged by kernel quirks (the kernel leaves them too; not a leak): ' + data.leftByQuirks.map((q) => q.target + ' ' + fmt(q.pages) + ' (' + q.quirk + ')').join(', '), 'quirk-left'));
const acc = data.accountings;
const kinds = [['iommufd', 'iommufd'], ['type1', 'VFIO type1'], ['spapr', 'SPAPR TCE']];
const three = document.getElementById('accountings');
const columns = el('tr');
columns.append(el('th', 'process'));
for (const [k, name] of kinds) {
  const th = el('th', name + (acc.actual.includes(k) ? ' (actual)' : ' (yardstick)'));
  th.colSpan = 2;
  th.dataset.accounting = k;
  columns.append(th);
}
const when = el('tr');
when.append(el('th'));
for (const _ of kinds) when.append(el('th', 'peak'), el('th', 'at the end'));
three.append(columns, when);
const row = (label, cells) => {
  const tr = el('tr');
  tr.append(el('th', label));
  for (const [k] of kinds) tr.append(el('td', fmt(cells[k].peak), 'peak ' + k), el('td', fmt(cells[k].final), 'final ' + k));
  three.append(tr);
};
for (const p of acc.processes) row('pid ' + p.pid, p);
if (acc.processes.length > 1) row('all', acc.total);
const prereg = document.getElementById('prereg');
for (const p of acc.preregistered) {
  prereg.append(el('li', 'pid ' + p.pid + ': ' + fmt(p.pages) + ' pre-registered, charged once' + (p.mappings === 0 ? ', never mapped' : ', used by up to ' + p.mappings + ' mappings in ' + p.windows + ' windows at once')));
}
const charts = document.getElementById('charts');
const x = data.lines;
const groups = new Map();
for (const s of data.series) {
  const owner = s.target.replace(/ (VmLck|VmPin|SPAPR pre-registered locked_vm|accounting .*|(type1|SPAPR TCE) locked_vm \\(pid \\d+\\))$/, '');
  if (!groups.has(owner)) groups.set(owner, []);
  groups.get(owner).push(s);
}
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
const quirks = document.getElementById('quirks');
for (const q of data.quirks) quirks.append(el('li', 'line ' + q.line + ' ' + q.op + ': ' + q.quirk + ': ' + q.detail));
if (data.replay.quirksOmitted) quirks.append(el('li', data.replay.quirksOmitted + ' more not listed'));
if (quirks.children.length === 0) quirks.append(el('li', 'none'));
const findings = document.getElementById('findings');
for (const f of data.replay.findings) findings.append(el('li', 'line ' + f.line + ' ' + f.op + ': ' + f.bug + ' in ' + f.releases.join(', ') + ', fixed by ' + f.fixed_by));
if (data.replay.findingsOmitted) findings.append(el('li', data.replay.findingsOmitted + ' more not listed'));
if (findings.children.length === 0) findings.append(el('li', 'none'));
`;

const STYLES = `
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
.chart { margin-bottom: 1.5em; }
`;

const BODY = `
<section id="summary"></section>
<h2>The workload under each accounting</h2>
<p>Pages per process. Each column is what its API charged for the mappings the trace made through it, and what it would charge for those made through the others: iommufd shares a pages object across IO address spaces, VFIO type1 charges each mapping of each container, SPAPR TCE charges pre-registered memory once per process.</p>
<table id="accountings"></table>
<ul id="prereg"></ul>
<h2>Charged memory over the trace</h2>
<section id="charts"></section>
<h2>Pages objects</h2>
<table id="pages"></table>
<p id="pages-omitted"></p>
<h2>Invariant violations</h2>
<ul id="violations"></ul>
<h2>Kernel quirks</h2>
<p>What the kernel does where it looks wrong, which the model does too: not a failure.</p>
<ul id="quirks"></ul>
<h2>Findings</h2>
<p>Events that made the release followed crash or WARN (docs/release-bugs.md): not a failure.</p>
<ul id="findings"></ul>
`;

export function renderAuditHtml(report: AuditReport): string {
  return renderPage({ command: 'audit', file: report.file, styles: STYLES, body: BODY, data: report, script: PAGE_SCRIPT });
}
