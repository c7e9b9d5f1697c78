/**
 * Replaying events whose arguments the capture did not record (format 1.1): `unknown_args`
 * events count as `unknown` and change nothing; `args_one_of` events are decided when every
 * value gives the same answer; what an undecided event reached makes later divergences there
 * unsure; a divergence names its capture line.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { Replayer } from '../../replay/replayer.ts';
import { formatTextReport } from '../../replay/text-report.ts';
import { HEADER } from '../harness.ts';

function replay(events: readonly object[]) {
  const { header, events: parsed } = parseTraceText([HEADER, ...events].map((e) => JSON.stringify(e)).join('\n'), 'inline.jsonl');
  const r = new Replayer(header, { ownChoices: false });
  const outcomes = parsed.map((e) => r.feed(e).outcome);
  return { r, outcomes };
}

const OPEN = { op: 'OPEN', expect: { out: { fd: 3 } } };
const IOAS = { op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 1 } } };
/** A page of the header's mapping, at `iova` of IOAS 1; the flags apart. */
const PAGE = { ioas_id: 1, user_va: '0x7f0000000000', length: '0x1000' };
const map = (iova: string, extra: object = {}) => ({ op: 'IOAS_MAP', args: { ...PAGE, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], iova }, ...extra });

describe('unknown_args', () => {
  it('is not run: counted as unknown, never ok, the state as it was', () => {
    const { r, outcomes } = replay([OPEN, IOAS, { op: 'IOAS_MAP', unknown_args: true, expect: {} }, map('0x1000', { expect: {} })]);
    expect(outcomes).toEqual(['ok', 'ok', 'unknown', 'ok']);
    expect(r.counts).toMatchObject({ events: 4, ok: 3, unknown: 1, diverged: 0 });
  });
  it('makes later divergences in what it reached unsure: its IOAS, or its whole context', () => {
    // The unknown map may have mapped 0x1000: a later map there that fails is not the model's fault.
    const { r } = replay([
      OPEN,
      IOAS,
      { op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 2 } } },
      { op: 'IOAS_MAP', args: { ioas_id: 1 }, unknown_args: ['flags', 'user_va', 'length', 'iova'], expect: {} },
      map('0x1000', { expect: { errno: 'EEXIST' } }),
      { ...map('0x1000', { expect: { errno: 'EEXIST' } }), args: { ...map('0x1000').args, ioas_id: 2 } },
    ]);
    expect(r.counts).toMatchObject({ unknown: 1, unsure_diverged: 1, diverged: 1 });
    expect(r.divergences[0]).toMatchObject({ line: 6, unsure: true, note: 'unsure: after line 5, whose outcome the capture does not decide, reached the same place' });
    expect(r.divergences[1]).toMatchObject({ line: 7, unsure: false });
  });
});

describe('args_one_of', () => {
  it('every value giving the same answer decides the event', () => {
    const oneOf = { op: 'IOAS_MAP', args: { ...PAGE, iova: '0x1000' }, args_one_of: { flags: [['FIXED_IOVA', 'READABLE'], ['FIXED_IOVA', 'READABLE', 'WRITEABLE']] }, expect: {} };
    const { outcomes } = replay([OPEN, IOAS, oneOf]);
    expect(outcomes[2]).toBe('ok');
  });
  it('values that answer differently leave it unknown, and the state as it was', () => {
    const { r, outcomes } = replay([
      OPEN,
      IOAS,
      { op: 'IOAS_MAP', args: { ...PAGE, flags: ['FIXED_IOVA', 'READABLE'] }, args_one_of: { iova: ['0x1000', '0x1001'] }, expect: {} },
      map('0x1000', { expect: {} }),
    ]);
    expect(outcomes).toEqual(['ok', 'ok', 'unknown', 'ok']);
    expect(r.counts.unknown).toBe(1);
  });
});

describe('source_line', () => {
  it('a divergence carries the capture line, and the text report names it', () => {
    const { r } = replay([OPEN, { op: 'DESTROY', args: { id: 9 }, source_line: 42, expect: {} }]);
    expect(r.divergences[0]).toMatchObject({ line: 3, source_line: 42 });
    const text = formatTextReport({ traces: [{ file: 'c.jsonl', ...r.counts, divergences: r.divergences, quirks: [], findings: [] }], totals: r.counts });
    expect(text).toContain('line 3 (capture line 42) DESTROY: expected {}, actual {"errno":"ENOENT"}');
  });
  it('the text report counts unknown events beside ran, and only when there are some', () => {
    const { r } = replay([OPEN, { op: 'IOAS_ALLOC', unknown_args: true }]);
    expect(formatTextReport({ traces: [{ file: 'c.jsonl', ...r.counts, divergences: [], quirks: [], findings: [] }], totals: r.counts })).toBe(
      'c.jsonl: 2 events: 1 ok, 0 diverged, 0 ran, 1 unknown, 0 unsupported',
    );
  });
});
