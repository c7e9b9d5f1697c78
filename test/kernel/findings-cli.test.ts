/**
 * Findings as a user sees them (the built `dist/src/cli.js`): a crash reproducer replayed from
 * its capture under a release that had the bug lists the event in `findings` of the `--json`
 * report and on a line of the text report, with exit status 0, the same with workers and
 * through `merge` of shards, and none under the newest release.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-findings-'));
const UNFILL = join(ROOT, 'test/captures/syz.xupengfe-230314-iopt_area_unfill_domain.c');
const CHECK_REFS = join(ROOT, 'test/captures/syz.xupengfe-230224-iommufd_test.c');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const unfill = (line: number) => ({ line, seq: null, op: 'DESTROY', bug: 'access-unpin-past-end', fixed_by: '727c28c1cef2', releases: ['6.2'] });
const checkRefs = { line: 3, seq: null, op: 'TEST_MD_CHECK_REFS', bug: 'selftest-check-overflow', fixed_by: 'fd8c1a4aee97', releases: ['6.2', '6.3'] };

describe('replay findings', () => {
  it('--json lists them per trace and counts them in totals; the exit status stays 0, with workers or without', () => {
    for (const jobs of ['1', '2']) {
      const r = cli('replay', '--json', '--jobs', jobs, '--from', 'syz', '--kernel', '6.2', UNFILL, CHECK_REFS);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.traces.map((t: { findings: unknown }) => t.findings)).toEqual([[unfill(12), unfill(24)], [checkRefs]]);
      expect(report.totals).toMatchObject({ diverged: 0, findings: 3 });
    }
  });

  it('the text report gives each on a line of its own', () => {
    const r = cli('replay', '--jobs', '1', '--from', 'syz', '--kernel', '6.3', CHECK_REFS);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `${CHECK_REFS}: 2 events: 0 ok, 0 diverged, 2 ran, 0 unsupported, 1 findings`,
      '  findings (the release crashed or WARNed here; not a failure):',
      '    line 3 TEST_MD_CHECK_REFS: selftest-check-overflow: WARNING in iommufd_test in 6.2–6.3, fixed by fd8c1a4aee97',
    ]);
  });

  it('merge of the shards gives what one run gives', () => {
    const shards = ['1/2', '2/2'].map((shard, i) => {
      const r = cli('replay', '--json', '--shard', shard, '--from', 'syz', '--kernel', '6.2', UNFILL, CHECK_REFS);
      const file = join(dir, `shard-${i}.json`);
      writeFileSync(file, r.stdout);
      return file;
    });
    const merged = cli('merge', '--json', ...shards);
    expect(merged.code).toBe(0);
    const report = JSON.parse(merged.stdout);
    expect(report.traces.map((t: { findings: unknown }) => t.findings)).toEqual([[unfill(12), unfill(24)], [checkRefs]]);
    expect(report.totals.findings).toBe(3);
  });

  it('under the newest release there are none', () => {
    const r = cli('replay', '--json', '--jobs', '1', '--from', 'syz', UNFILL, CHECK_REFS);
    const report = JSON.parse(r.stdout);
    expect(report.traces.map((t: { findings: unknown }) => t.findings)).toEqual([[], []]);
    expect(report.totals.findings).toBe(0);
  });

  it('audit --from lists them too, named by the capture, in text and in --json', () => {
    const text = cli('audit', '--jobs', '1', '--from', 'syz', '--kernel', '6.3', CHECK_REFS);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe(`${CHECK_REFS}: 2 events: 0 ok, 0 diverged, 2 ran, 0 unsupported`);
    expect(text.stdout.trimEnd().split('\n').slice(-2)).toEqual([
      '  findings (the release crashed or WARNed here; not a failure): 1',
      '    line 3 TEST_MD_CHECK_REFS: selftest-check-overflow: WARNING in iommufd_test in 6.2–6.3, fixed by fd8c1a4aee97',
    ]);
    const json = JSON.parse(cli('audit', '--json', '--jobs', '1', '--from', 'syz', '--kernel', '6.2', UNFILL, CHECK_REFS).stdout);
    expect(json.audits.map((a: { file: string }) => a.file)).toEqual([UNFILL, CHECK_REFS]);
    expect(json.audits.map((a: { replay: { findings: unknown } }) => a.replay.findings)).toEqual([[unfill(12), unfill(24)], [checkRefs]]);
  });
});
