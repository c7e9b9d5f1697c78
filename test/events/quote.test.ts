/**
 * How messages quote input: escaped, cut short, and never costing more than what they print.
 */
import { describe, expect, it } from 'vitest';
import { MAX_QUOTED, clip, show } from '../../events/quote.ts';

describe('clip', () => {
  it('leaves short, safe text as it is', () => {
    expect(clip('args.allowed_iovas[0].start')).toBe('args.allowed_iovas[0].start');
    expect(clip('x'.repeat(MAX_QUOTED))).toBe('x'.repeat(MAX_QUOTED));
    expect(clip('é€😀 漢字')).toBe('é€😀 漢字');
  });

  it('escapes controls, separators, bidi controls, the byte order mark and lone surrogates', () => {
    expect(clip('a\nb\r\t\u0000\u007f\u0085')).toBe('a\\u000ab\\u000d\\u0009\\u0000\\u007f\\u0085');
    expect(clip('\u2028\u2029\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff', 1000)).toBe(
      '\\u2028\\u2029\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\ufeff',
    );
    expect(clip('\ud800x\udc00😀')).toBe('\\ud800x\\udc00😀');
  });

  it('cuts long text to the limit, marked, without splitting an escape or a pair', () => {
    expect(clip('x'.repeat(MAX_QUOTED + 1))).toBe(`${'x'.repeat(MAX_QUOTED - 3)}...`);
    expect(clip(`${'x'.repeat(75)}\n${'y'.repeat(10)}`)).toBe(`${'x'.repeat(75)}...`);
    expect(clip(`${'x'.repeat(76)}😀${'y'.repeat(10)}`)).toBe(`${'x'.repeat(76)}...`);
    expect(clip('\n'.repeat(100))).toBe(`${'\\u000a'.repeat(12)}...`);
    expect(clip('abcdef', 5)).toBe('ab...');
  });

  it('is the same done twice', () => {
    for (const text of ['plain', 'x'.repeat(500), 'a\nb\u202e'.repeat(40), '\ud800'.repeat(30)]) {
      expect(clip(clip(text))).toBe(clip(text));
    }
  });
});

describe('show', () => {
  it('writes a value as its JSON', () => {
    expect(show('0xzz')).toBe('"0xzz"');
    expect(show([1, 'a', null, true, { b: [] }])).toBe('[1,"a",null,true,{"b":[]}]');
    expect(show(undefined)).toBe('undefined');
    expect(show({ __proto__: 1 } as unknown)).toBe('{}');
    expect(show(JSON.parse('{"__proto__":1}'))).toBe('{"__proto__":1}');
  });

  it('writes numbers past a double as what JSON.parse made of them, not null', () => {
    expect(show(JSON.parse('1e400'))).toBe('Infinity');
    expect(show(JSON.parse('[-1e400]'))).toBe('[-Infinity]');
  });

  it('reads no more of a value than it prints', () => {
    const long = 'v'.repeat(1_000_000);
    const wide = Array.from({ length: 1_000_000 }, (_, i) => ({ [`k${i}`]: long }));
    const deep = { deep: JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) };
    const started = performance.now();
    expect(show(wide)).toBe(`[{"k0":"${'v'.repeat(69)}...`);
    expect(show(deep)).toBe(`{"deep":${'['.repeat(69)}...`);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
