/**
 * Envelope mode (`replay --kernel all`): traces whose results only some releases give are
 * consistent with exactly those, the events the releases answer differently name the releases
 * that agree with the capture, and the conformance corpus is consistent with the newest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_RELEASES, envelopeExitCode, envelopeFile, envelopeReport } from '../../replay/envelope.ts';
import { formatEnvelopeText, releaseRanges } from '../../replay/envelope-text.ts';
import { NEWEST, RELEASES } from '../../src/kernel/releases.ts';
import { CONFORMANCE_DIR } from '../conformance/corpus.ts';
import { HEADER } from '../harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-envelope-'));

function trace(name: string, events: readonly object[], header: object = HEADER): string {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${[header, ...events].map((e) => JSON.stringify(e)).join('\n')}\n`);
  return file;
}

/** `from` to `to` of the releases tried, both included. */
const span = (from: string, to: string): string[] => ENVELOPE_RELEASES.slice(ENVELOPE_RELEASES.indexOf(from), ENVELOPE_RELEASES.indexOf(to) + 1);

const OPEN_IOAS = [
  { op: 'OPEN', expect: { out: { fd: 3 } } },
  { op: 'IOAS_ALLOC', args: { size: 12 }, expect: { out: { out_ioas_id: 1 } } },
];

/** VFIO compat's unmap of an empty range, as kernels before afb47765f923 (6.18) answered it. */
const COMPAT_UNMAP = [
  ...OPEN_IOAS,
  { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 'SET' }, expect: {} },
  { op: 'VFIO_IOMMU_UNMAP_DMA', args: { iova: '0x100000', size: '0x1000' }, expect: { errno: 'ENOENT', out: { size: 0 } } },
];

/** Selftest ops of 0x38 bytes, the whole `iommu_test_cmd` before a9af47e382a4 (6.7). */
const TEST_CMD_0X38 = [
  ...OPEN_IOAS,
  { op: 'TEST_MOCK_DOMAIN', args: { size: 0x38, id: 1 }, expect: { out: { out_stdev_id: 2, out_hwpt_id: 4 } } },
  { op: 'TEST_ADD_RESERVED', args: { size: 0x38, id: 1, start: '0x1000', length: '0x1000' }, expect: {} },
];

describe('the releases a trace is consistent with', () => {
  it('tries every release, those before iommufd first', () => {
    expect(ENVELOPE_RELEASES).toEqual(RELEASES.map((r) => r.name));
    expect(ENVELOPE_RELEASES.slice(0, ENVELOPE_RELEASES.indexOf('6.2'))).toEqual(['4.2', '5.1', '5.4', '5.8', '5.10', '5.12']);
    expect(ENVELOPE_RELEASES.at(-1)).toBe(NEWEST);
  });

  it('a compat unmap of an empty range that failed with ENOENT: 6.2 to 6.17', async () => {
    const t = await envelopeFile(trace('compat', COMPAT_UNMAP), { ownChoices: false });
    expect(t.consistent).toEqual(span('6.2', '6.17'));
    expect(t.error).toBeUndefined();
    // The releases before 6.2 diverged at the OPEN: their EBADFs after it follow on from that, and are only counted.
    expect(t.disagreements.map((d) => d.op)).toEqual(['OPEN', 'VFIO_IOMMU_UNMAP_DMA']);
    expect(t.followOn).toBe(2);
    const unmap = t.disagreements[1];
    expect(unmap).toEqual({
      line: 5,
      seq: null,
      op: 'VFIO_IOMMU_UNMAP_DMA',
      expected: { errno: 'ENOENT', out: { size: 0 } },
      agree: span('6.2', '6.17'),
      results: [
        // Before iommufd, the OPEN of /dev/iommu failed: the fd was never there.
        { outcome: 'diverged', actual: { errno: 'EBADF' }, releases: span('4.2', '5.12') },
        { outcome: 'ok', actual: { errno: 'ENOENT', out: { size: 0 } }, releases: span('6.2', '6.17') },
        { outcome: 'diverged', actual: { out: { size: 0 } }, releases: ['6.18', '6.19'] },
      ],
    });
    const after = t.releases.find((r) => r.release === '6.18');
    expect(after).toMatchObject({ events: 4, ok: 3, diverged: 1, firstDivergence: { line: 5, seq: null, op: 'VFIO_IOMMU_UNMAP_DMA' } });
    expect(t.releases.find((r) => r.release === '6.17')?.firstDivergence).toBeUndefined();
  });

  it('test ops of 0x38 bytes: 6.2 to 6.6, newer releases refusing them with EINVAL', async () => {
    const t = await envelopeFile(trace('test-cmd', TEST_CMD_0X38), { ownChoices: false });
    expect(t.consistent).toEqual(span('6.2', '6.6'));
    const mock = t.disagreements.find((d) => d.op === 'TEST_MOCK_DOMAIN');
    expect(mock?.agree).toEqual(span('6.2', '6.6'));
    expect(mock?.results.find((g) => g.releases.includes(NEWEST))).toEqual({ outcome: 'diverged', actual: { errno: 'EINVAL' }, releases: span('6.7', NEWEST) });
    // The releases that refused it refuse the next test op too: that follows on, and is only counted.
    expect(t.disagreements.map((d) => d.op)).not.toContain('TEST_ADD_RESERVED');
  });

  it("a header's env.kernel is not consulted: every release is tried", async () => {
    const header = { ...HEADER, env: { ...HEADER.env, kernel: NEWEST } };
    expect((await envelopeFile(trace('compat-6.19', COMPAT_UNMAP, header), { ownChoices: false })).consistent).toEqual(span('6.2', '6.17'));
  });

  it('events without an expectation do not count against a release, and their rows say so', async () => {
    const t = await envelopeFile(trace('unexpected', [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }]), { ownChoices: false });
    expect(t.consistent).toEqual(ENVELOPE_RELEASES);
    expect(t.disagreements.map((d) => [d.op, d.expected, d.agree])).toEqual([
      ['OPEN', null, null],
      ['IOAS_ALLOC', null, null],
    ]);
  });

  it('a trace no release gives is consistent with none: exit status 1', async () => {
    // The empty unmap as 6.18 answers it, then test ops only 6.6 and older take.
    const newer = { ...COMPAT_UNMAP[3], expect: { out: { size: 0 } } };
    const t = await envelopeFile(trace('none', [...COMPAT_UNMAP.slice(0, 3), newer, ...TEST_CMD_0X38.slice(2)]), { ownChoices: false });
    expect(t.consistent).toEqual([]);
    const report = envelopeReport([t]);
    expect(report.totals).toEqual({ traces: 1, consistent: [], inconsistent: 1 });
    expect(envelopeExitCode(report)).toBe(1);
    expect(formatEnvelopeText(report).split('\n')[0]).toBe(`${t.file}: 6 events, consistent with no release`);
  });

  it('maxDivergences caps the events listed; the rest are counted', async () => {
    const t = await envelopeFile(trace('capped', COMPAT_UNMAP), { ownChoices: false, maxDivergences: 1 });
    expect(t.disagreements.map((d) => d.op)).toEqual(['OPEN']);
    expect(t.disagreementsOmitted).toBe(1);
  });

  it('a file that cannot be read through is an error (exit status 2), consistent with nothing', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify(HEADER)}\n{"op":"OPEN"}\nnot json\n`);
    const t = await envelopeFile(file, { ownChoices: false });
    expect(t.error).toMatch(/bad\.jsonl:3: /);
    expect(t.consistent).toEqual([]);
    expect(t.releases.every((r) => r.events === 1)).toBe(true);
    expect(envelopeExitCode(envelopeReport([t]))).toBe(2);
  });
});

describe('the conformance corpus', () => {
  it('IOAS_CHANGE_PROCESS and IOAS_MAP_FILE (6.13) confine a trace to the newest releases; each row names its releases', async () => {
    const t = await envelopeFile(join(CONFORMANCE_DIR, 'change_process.account_user.basic.jsonl'), { ownChoices: false });
    expect(t.consistent).toEqual(span('6.13', NEWEST));
    const change = t.disagreements.find((d) => d.op === 'IOAS_CHANGE_PROCESS');
    expect(change?.agree).toEqual(span('6.13', NEWEST));
    expect(change?.results).toEqual([
      { outcome: 'diverged', actual: { errno: 'EBADF' }, releases: span('4.2', '5.12') },
      { outcome: 'diverged', actual: { errno: 'ENOTTY' }, releases: span('6.2', '6.12') },
      { outcome: 'ok', actual: { errno: 'EINVAL' }, releases: span('6.13', NEWEST) },
    ]);
  });

  it('a trace of ops every release since 6.2 has is consistent with all of them', async () => {
    const t = await envelopeFile(join(CONFORMANCE_DIR, 'iommufd.default.map_cmd.jsonl'), { ownChoices: false });
    expect(t.consistent).toEqual(span('6.2', NEWEST));
  });
});

describe('release ranges', () => {
  it('joins neighbours in the releases tried, and a gap ends a range', () => {
    expect(releaseRanges(['6.6', '6.7', '6.8', '6.9'], ENVELOPE_RELEASES)).toBe('6.6–6.9');
    expect(releaseRanges(['5.12', '6.2', '6.4', '6.19'], ENVELOPE_RELEASES)).toBe('5.12–6.2, 6.4, 6.19');
    expect(releaseRanges([], ENVELOPE_RELEASES)).toBe('no release');
  });
});
