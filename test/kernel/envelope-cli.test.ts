/**
 * `replay --kernel all` as a user runs it (the built `dist/src/cli.js`): the text, the `--json`
 * report against the shape docs/envelope.md documents, the exit status, `--jobs`, `--from`, and
 * the options it refuses.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EnvelopeReport } from '../../replay/envelope.ts';
import { HEADER } from '../harness.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-envelope-cli-'));
const CORPUS_TRACE = 'test/conformance/corpus/change_process.account_user.basic.jsonl';
const REPRODUCER = 'test/captures/syz.xupengfe-230328-pfn_reader_user_pin-min.syz';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function trace(name: string, events: readonly object[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${[{ ...HEADER, env: { ...HEADER.env, kernel: '6.19' } }, ...events].map((e) => JSON.stringify(e)).join('\n')}\n`);
  return file;
}

/** VFIO compat's empty unmap as kernels before 6.18 answered it. */
const COMPAT_UNMAP = trace('compat.jsonl', [
  { op: 'OPEN', expect: { out: { fd: 3 } } },
  { op: 'IOAS_ALLOC', args: { size: 12 }, expect: { out: { out_ioas_id: 1 } } },
  { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 'SET' }, expect: {} },
  { op: 'VFIO_IOMMU_UNMAP_DMA', args: { iova: '0x100000', size: '0x1000' }, expect: { errno: 'ENOENT', out: { size: 0 } } },
]);

/** An OPEN of /dev/iommu that answers ENOENT, and then one that works: no release gives both. */
const NONE = trace('none.jsonl', [
  { op: 'OPEN', expect: { errno: 'ENOENT' } },
  { op: 'OPEN', expect: { out: { fd: 3 } } },
]);

/** The example of the `--json` section of docs/envelope.md. */
function documented(): unknown {
  const doc = readFileSync(join(ROOT, 'docs/envelope.md'), 'utf8');
  const block = /## `--json`[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/envelope.md has no --json example');
  return JSON.parse(block);
}

/** The fields the documentation marks optional. */
const OPTIONAL = new Set(['firstDivergence', 'disagreementsOmitted', 'error', 'actual', 'source_line']);

/**
 * Whether `actual` has the shape of `doc`: the same fields (the optional ones may be missing),
 * each of the same type, every element of a list shaped as the documented element; null
 * stands in for any type where the documentation shows an example value that may be null.
 */
function shapeErrors(actual: unknown, doc: unknown, path: string): string[] {
  if (actual === null || doc === null) return [];
  if (Array.isArray(doc)) {
    if (!Array.isArray(actual)) return [`${path}: not a list`];
    return actual.flatMap((a, i) => shapeErrors(a, doc[0], `${path}[${i}]`));
  }
  if (typeof doc !== 'object') return typeof actual === typeof doc ? [] : [`${path}: ${typeof actual}, documented ${typeof doc}`];
  if (typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: not an object`];
  const a = actual as Record<string, unknown>;
  const d = doc as Record<string, unknown>;
  // `expected` and `actual` are the capture's and the model's answers: free-form.
  if (path.endsWith('.expected') || path.endsWith('.actual')) return [];
  return [
    ...Object.keys(a).filter((k) => !(k in d)).map((k) => `${path}.${k}: not documented`),
    ...Object.keys(d).filter((k) => !(k in a) && !OPTIONAL.has(k)).map((k) => `${path}.${k}: missing`),
    ...Object.keys(a).filter((k) => k in d).flatMap((k) => shapeErrors(a[k], d[k], `${path}.${k}`)),
  ];
}

describe('replay --kernel all', () => {
  it('--json: a report of the documented shape, the releases each trace is consistent with, exit 0', () => {
    const r = cli('replay', '--kernel', 'all', '--json', '--jobs', '1', COMPAT_UNMAP, CORPUS_TRACE);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as EnvelopeReport;
    expect(shapeErrors(report, documented(), '')).toEqual([]);
    expect(report.traces.map((t) => [t.file, t.consistent.at(0), t.consistent.at(-1)])).toEqual([
      [COMPAT_UNMAP, '6.2', '6.17'],
      [CORPUS_TRACE, '6.13', '6.19'],
    ]);
    expect(report.totals).toEqual({ traces: 2, consistent: ['6.13', '6.14', '6.15', '6.16', '6.17'], inconsistent: 0 });
    // Every optional field the documentation names is met in a real report.
    const text = r.stdout;
    for (const field of ['firstDivergence', 'actual']) expect(text).toContain(`"${field}":`);
  });

  it('--jobs: the same report on worker threads', () => {
    const one = cli('replay', '--kernel', 'all', '--json', '--jobs', '1', COMPAT_UNMAP, CORPUS_TRACE, NONE);
    const two = cli('replay', '--kernel', 'all', '--json', '--jobs', '2', COMPAT_UNMAP, CORPUS_TRACE, NONE);
    expect(two.code).toBe(1);
    expect(two.stdout).toBe(one.stdout);
  });

  it('text: the releases as ranges, each event answered differently with its releases; exit 1 for a trace consistent with none', () => {
    const r = cli('replay', '--kernel', 'all', '--jobs', '1', COMPAT_UNMAP, NONE);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${COMPAT_UNMAP}: 4 events, consistent with 6.2–6.17`);
    expect(lines).toContain('  line 5 VFIO_IOMMU_UNMAP_DMA: expected {"errno":"ENOENT","out":{"size":0}}, as 6.2–6.17');
    expect(lines).toContain('    6.18–6.19: diverged {"out":{"size":0}}');
    expect(lines).toContain('  2 more events answered differently only by releases already diverged');
    expect(lines).toContain('  6.18–6.19: 1 diverged, the first at line 5 VFIO_IOMMU_UNMAP_DMA');
    expect(lines).toContain(`${NONE}: 2 events, consistent with no release`);
    expect(lines.at(-1)).toBe('total: 2 traces, consistent together with no release; 1 consistent with no release');
  });

  it('--from: a capture imported, replayed under every release and reported under its name, with the crash it sets off in 6.2', () => {
    // syzkaller records no results: the importer gives the fds later calls name as 6.2 hands them out.
    const header = join(dir, 'kernel-6.2.json');
    writeFileSync(header, '{"env":{"kernel":"6.2"}}');
    const from = ['--from', 'syz', '--header', header, REPRODUCER];
    const r = cli('replay', '--kernel', 'all', '--json', '--jobs', '1', ...from);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as EnvelopeReport;
    expect(shapeErrors(report, documented(), '')).toEqual([]);
    const [t] = report.traces;
    expect(t?.file).toBe(REPRODUCER);
    expect(t?.disagreements[0]?.source_line).toBeGreaterThan(0);
    expect(t?.findings).toEqual([{ line: 10, seq: null, op: 'TEST_ACCESS_RW', bug: 'uptr-overflow', fixed_by: 'e4395701330f', releases: ['6.2'] }]);
    const text = cli('replay', '--kernel', 'all', '--jobs', '1', ...from).stdout;
    expect(text).toContain('  line 10 TEST_ACCESS_RW: finding under 6.2: uptr-overflow, fixed by e4395701330f\n');
  });

  it('refuses what means nothing across releases; other commands take no "all"', () => {
    const r = cli('replay', '--kernel', 'all', '--invariants', '--explain', COMPAT_UNMAP);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('iommufd-model: --kernel all takes no --invariants, --explain\n');
    const audit = cli('audit', '--kernel', 'all', COMPAT_UNMAP);
    expect(audit.code).toBe(2);
    expect(audit.stderr).toContain('all is not a kernel version');
  });
});
