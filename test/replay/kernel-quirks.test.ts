/**
 * Kernel quirks in the replay report: the three SPAPR quirks of
 * test/replay/scenarios/spapr-kernel-quirks.jsonl, each at its event, in `--json` beside the
 * violations and in the text under their own heading, with or without `--invariants`, never
 * failing the run, and the same through worker threads and merged shards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCode, replayFile, replayReport } from '../../replay/replay-file.ts';
import { formatTextReport } from '../../replay/text-report.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const TRACE = 'test/replay/scenarios/spapr-kernel-quirks.jsonl';
const dir = mkdtempSync(join(tmpdir(), 'kernel-quirks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const QUIRKS = [
  {
    line: 9,
    seq: 8,
    op: 'VFIO_IOMMU_SPAPR_TCE_CREATE',
    quirk: 'tce-table-charge-leaked',
    detail: 'pid 1: 8 pages charged for a TCE table that was not made stay charged',
  },
  {
    line: 13,
    seq: 12,
    op: 'VFIO_IOMMU_MAP_DMA',
    quirk: 'tce-past-window',
    detail: 'container 1 window 0: TCEs 0x3fff..0x4000 lie past its last entry 0x3fff',
  },
  {
    line: 14,
    seq: 13,
    op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
    quirk: 'prereg-region-leaked',
    detail: 'pid 1: region 0x7fff80000000+0x4000000 stays pinned and charged (1024 pages) with no container holding it, 2 TCEs pointing into it',
  },
];

const HEADING = '  kernel quirks (the kernel does this too; not a failure):';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kernel quirks in the replay report', () => {
  it('each is reported once, at its event, with or without --invariants, and changes no exit status', async () => {
    for (const invariants of [false, true]) {
      const t = await replayFile(join(ROOT, TRACE), { ownChoices: false, invariants });
      expect(t).toMatchObject({ events: 18, ok: 18, diverged: 0, unsupported: 0 });
      expect(t.quirks).toEqual(QUIRKS);
      expect(t.violations).toEqual(invariants ? [] : undefined);
      const report = replayReport([t], invariants);
      expect(report.totals.quirks).toBe(3);
      expect(exitCode(report)).toBe(0);
    }
  });

  it('--json lists them beside the violations and counts them in the totals; the text lists them under their own heading', () => {
    const json = cli('replay', '--json', '--invariants', TRACE);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report.traces[0])).toEqual(['file', 'events', 'ok', 'diverged', 'ran', 'unknown', 'unsupported', 'unsure_diverged', 'divergences', 'violations', 'quirks', 'findings']);
    expect(report.traces[0]).toMatchObject({ violations: [], quirks: QUIRKS });
    expect(report.totals).toMatchObject({ violations: 0, quirks: 3 });
    const text = cli('replay', '--invariants', TRACE);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      `${TRACE}: 18 events: 18 ok, 0 diverged, 0 ran, 0 unsupported, 0 invariant violations, 3 kernel quirks`,
      HEADING,
      ...QUIRKS.map((q) => `    line ${q.line} seq ${q.seq} ${q.op}: ${q.quirk}: ${q.detail}`),
      '',
    ]);
    // Without --invariants they are still found; the violations are not looked for.
    const plain = JSON.parse(cli('replay', '--json', TRACE).stdout);
    expect(plain.traces[0].quirks).toEqual(QUIRKS);
    expect(plain.traces[0]).not.toHaveProperty('violations');
    expect(plain.totals).toMatchObject({ quirks: 3 });
  });

  it('--max-findings lists N and counts the rest; the total stays exact', () => {
    const json = JSON.parse(cli('replay', '--json', '--max-findings', '1', TRACE).stdout);
    expect(json.traces[0]).toMatchObject({ quirks: [QUIRKS[0]], quirksOmitted: 2 });
    expect(json.totals.quirks).toBe(3);
    const text = cli('replay', '--max-findings', '0', TRACE);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`3 kernel quirks\n${HEADING}\n    ... 3 more kernel quirks not listed (--max-findings)`);
  });

  it('--jobs 2 and shards merged give what one thread gives, text and --json', () => {
    const other = join(dir, 'plain.jsonl');
    writeFileSync(other, `${JSON.stringify({ trace: 'iommufd', version: 1, env: {} })}\n{"op":"OPEN","expect":{"out":{"fd":3}}}\n`);
    const files = [TRACE, other, TRACE, 'examples/power-guest.jsonl'];
    for (const flags of [['--json', '--invariants'], ['--invariants']]) {
      const one = cli('replay', ...flags, '--jobs', '1', ...files);
      expect(one.code).toBe(0);
      expect(one.stdout).toContain(flags.includes('--json') ? '"quirk":"prereg-region-leaked"' : HEADING);
      expect(cli('replay', ...flags, '--jobs', '2', ...files)).toEqual(one);
      const parts = [2, 1].map((i) => {
        const part = join(dir, `part-${flags.join('')}-${i}.json`);
        writeFileSync(part, cli('replay', ...flags.filter((f) => f !== '--json'), '--json', '--shard', `${i}/2`, ...files).stdout);
        return part;
      });
      expect(cli('merge', ...flags.filter((f) => f === '--json'), ...parts)).toEqual(one);
    }
  }, 60_000);
});

describe('the text report of a trace without quirks', () => {
  it('has no heading and no count of them', async () => {
    const t = await replayFile(join(ROOT, 'test/replay/scenarios/s2-rlimit-no-partial-charge.jsonl'), { ownChoices: false });
    expect(t.quirks).toEqual([]);
    const text = formatTextReport(replayReport([t], false));
    expect(text).not.toContain('kernel quirks');
  });
});
