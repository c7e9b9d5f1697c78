/**
 * The shell of the self-contained pages (`audit --html`, `inspect --html`): no network (a
 * Content-Security-Policy allowing only what is inline), uPlot and its stylesheet inlined, the
 * page's data in a JSON block, and the script scaffolding both pages draw with. Every string
 * from a trace is placed with textContent, so none of it is markup.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

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

/**
 * What every page script starts with: `data` (the JSON block), `el` (an element with text, never
 * markup), `fmt` (pages of `data.pageSize` bytes as KiB, MiB, GiB), `palette` (the charts'
 * colours), and the title naming `data.file`.
 */
const prelude = (command: string): string => `
const data = JSON.parse(document.getElementById('${command}-data').textContent);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const fmt = (pages) => { const b = pages * data.pageSize; return b >= 1073741824 ? (b / 1073741824).toFixed(2) + ' GiB' : b >= 1048576 ? (b / 1048576).toFixed(2) + ' MiB' : (b / 1024) + ' KiB'; };
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
document.getElementById('title').append('iommufd-model ${command}: ', el('bdi', data.file));
`;

export interface Page {
  /** The command that wrote it, named in the title: `audit`, `inspect`. */
  readonly command: 'audit' | 'inspect';
  /** The trace the page is about; the script finds it as `data.file` too. */
  readonly file: string;
  /** The page's own rules, after the shared ones. */
  readonly styles: string;
  /** The markup after the title: fixed elements only, which the script fills. */
  readonly body: string;
  /** The JSON block: `data` in the script. */
  readonly data: { readonly file: string; readonly pageSize: number };
  /** Runs after the prelude; the page is marked ready (`body[data-ready]`) after it. */
  readonly script: string;
}

export function renderPage(page: Page): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>iommufd-model ${page.command}: ${escapeHtml(isolate(page.file))}</title>
<style>${asset('uplot/dist/uPlot.min.css')}
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { overflow-wrap: anywhere; font-size: 1.5em; }
${page.styles.trim()}
</style>
</head>
<body>
<h1 id="title" dir="auto"></h1>
${page.body.trim()}
<script type="application/json" id="${page.command}-data">${scriptJson(page.data)}</script>
<script>${withFixedLocale(asset('uplot/dist/uPlot.iife.min.js'), 'uPlot')}</script>
<script>${prelude(page.command)}${page.script.trim()}
document.body.dataset.ready = '1';
</script>
</body>
</html>
`;
}
