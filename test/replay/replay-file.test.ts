/**
 * A trace that breaks off: the replay reports what it replayed up to the bad line, and the line.
 * Whatever stops a file is that file's error, and its file is closed.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCode, replayFile, replayReport } from '../../replay/replay-file.ts';
import { formatTextReport } from '../../replay/text-report.ts';
import { DEFAULT_HEADER_LINE as HEADER } from '../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'replay-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function trace(name: string, lines: readonly string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const OPEN = '{"op":"OPEN","expect":{"out":{"fd":3}}}';
const ALLOC = '{"op":"IOAS_ALLOC","expect":{"out":{"out_ioas_id":1}}}';

describe('a malformed line', () => {
  it('ends the replay after the events before it, read with it in one piece of the file', async () => {
    const path = trace('bad.jsonl', [HEADER, OPEN, ALLOC, '{"op":"DESTROY","args":{"id":"one"}}', '{"op":"CLOSE","args":{"fd":3}}']);
    const r = await replayFile(path, { ownChoices: false });
    expect(r).toMatchObject({ events: 2, ok: 2, diverged: 0 });
    expect(r.error).toBe(`${path}:4: DESTROY args.id: "one" is not a number`);
  });

  it('far into the file ends it there too', async () => {
    const fillers = Array.from({ length: 2000 }, () => `{"op":"OPEN","note":"${'-'.repeat(100)}"}`);
    const path = trace('late.jsonl', [HEADER, ...fillers, '{"op":"OPEN"', OPEN]);
    const r = await replayFile(path, { ownChoices: false });
    expect(r.events).toBe(2000);
    expect(r.error).toBe(`${path}:2002: invalid JSON: Expected ',' or '}' after property value in JSON at position 12`);
  });
});

describe('a failure that is not the trace\'s', () => {
  const path = trace('ok.jsonl', [HEADER, OPEN, ALLOC, '{"op":"CLOSE","args":{"fd":3}}']);
  const throwAt = (line: number, error: Error) => ({
    event: (event: { line: number }) => {
      if (event.line === line) throw error;
    },
  });

  it('is the file\'s error at the event it came from, after the events before it', async () => {
    const r = await replayFile(path, { ownChoices: false }, throwAt(3, new RangeError('Maximum call stack size exceeded')));
    expect(r).toMatchObject({ events: 2, ok: 2 });
    expect(r.error).toBe(`${path}:3: RangeError: Maximum call stack size exceeded`);
  });

  it('stays one line of bounded length, the file name escaped', async () => {
    const odd = trace('two\nlines\u202e.jsonl', [HEADER, OPEN]);
    const r = await replayFile(odd, { ownChoices: false }, throwAt(2, new Error(`[iommufd-model] bad\n${'x'.repeat(10_000)}`)));
    expect(r.error).toMatch(/^\S*two\\u000alines\\u202e\.jsonl:2: bad\\u000ax+\.\.\.$/);
    expect((r.error ?? '').length).toBeLessThan(odd.length + 250);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('leaves no file open, whatever stopped the replay', async () => {
    const badDevice = trace('device.jsonl', [JSON.stringify({ trace: 'iommufd', version: 1, env: { devices: [{ name: 'd', kind: 'x', dirty: 3 }] } }), OPEN]);
    const malformed = trace('malformed.jsonl', [HEADER, OPEN, '{"op":']);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    for (let i = 0; i < 50; i++) {
      expect((await replayFile(badDevice, { ownChoices: false })).error).toMatch(/device\.jsonl:1: /);
      expect((await replayFile(malformed, { ownChoices: false })).error).toMatch(/malformed\.jsonl:3: /);
      expect((await replayFile(path, { ownChoices: false }, throwAt(2, new Error('model failure')))).error).toMatch(/ok\.jsonl:2: model failure$/);
    }
    expect(open()).toBeLessThanOrEqual(before);
  });
});

describe('--max-divergences', () => {
  const diverging = (n: number) => trace(`diverge-${n}.jsonl`, [HEADER, OPEN, ...Array.from({ length: n }, () => '{"op":"IOAS_ALLOC","expect":{"errno":"EINVAL"}}')]);

  it('keeps the first N divergences and counts the rest', async () => {
    const r = await replayFile(diverging(10), { ownChoices: false, maxDivergences: 3 });
    expect(r.diverged).toBe(10);
    expect(r.divergences.map((d) => d.line)).toEqual([3, 4, 5]);
    expect(r.divergencesOmitted).toBe(7);
  });

  it('says nothing of omitted divergences when none were left out', async () => {
    const r = await replayFile(diverging(3), { ownChoices: false, maxDivergences: 3 });
    expect(r.divergences).toHaveLength(3);
    expect('divergencesOmitted' in r).toBe(false);
  });
});

describe('--max-findings', () => {
  // The corpus trace breaks four invariants with the double-charge bug on.
  const broken = join(import.meta.dirname, '../conformance/corpus/iommufd_ioas.no_domain.access_pin_unmap.jsonl');
  const options = { ownChoices: false, invariants: true, bugs: new Set(['double-charge'] as const) };

  it('keeps the first N violations and counts the rest: the total and the exit status stay exact', async () => {
    const all = await replayFile(broken, options);
    expect(all.violations).toHaveLength(4);
    expect('violationsOmitted' in all).toBe(false);
    const cut = await replayFile(broken, { ...options, maxFindings: 1 });
    expect(cut.violations).toEqual(all.violations?.slice(0, 1));
    expect(cut.violationsOmitted).toBe(3);
    const report = replayReport([cut], true);
    expect(report.totals.violations).toBe(4);
    expect(exitCode(report)).toBe(1);
    expect(formatTextReport(report)).toContain('4 invariant violations\n  line ');
    expect(formatTextReport(report)).toContain('\n  ... 3 more invariant violations not listed (--max-findings)');
  });
});
