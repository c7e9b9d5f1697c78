/**
 * The kernel selftest traces (test/conformance/corpus) read through without error, and survive
 * writing and reading back.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatEvent, formatHeader, openTrace, parseTraceText } from '../../events/index.ts';
import type { TraceEvent } from '../../events/index.ts';

const DIR = new URL('../conformance/corpus/', import.meta.url);
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.jsonl'))
  .sort();
const text = (file: string) => readFileSync(new URL(file, DIR), 'utf8');

/** Lines that are neither blank nor comments, less the header. */
const eventLines = (content: string) => content.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length - 1;

const withoutLine = ({ line: _, ...rest }: TraceEvent) => rest;

describe('conformance traces', () => {
  it('are all there', () => {
    expect(FILES).toHaveLength(106);
  });

  it('read through the streaming reader, every event line an event', async () => {
    let total = 0;
    for (const file of FILES) {
      const trace = await openTrace(new URL(file, DIR).pathname, { file });
      let events = 0;
      let shortTestCmds = 0;
      for await (const batch of trace.batches) {
        for (const event of batch) {
          events++;
          if (event.op.startsWith('TEST_') && event.args?.size !== 72) shortTestCmds++;
        }
      }
      expect(events, file).toBe(eventLines(text(file)));
      expect(shortTestCmds, file).toBe(0);
      expect(trace.header.env.memory).toBe('declared');
      total += events;
    }
    expect(total).toBeGreaterThan(180_000);
  });

  it('read as the README describes them', () => {
    const { header, events } = parseTraceText(text('iommufd.default.cmd_length.jsonl'));
    expect(header.env.processes).toEqual([{ pid: 1, uid: 0, rlimitMemlock: null, caps: ['CAP_SYS_RESOURCE'] }]);
    expect(header.extra.source).toMatchObject({ fixture: 'iommufd', test: 'cmd_length' });
    expect(events[0]?.args?.fields).toEqual({
      addr: 0x7f0000000000n,
      length: 0x10000n,
      prot: 3n,
      shared: true,
      hugepage: false,
    });
    const destroy = events.filter((e) => e.op === 'DESTROY').slice(0, 4);
    expect(destroy.map((e) => [e.args?.size, e.args?.trailing, e.expect?.errno])).toEqual([
      [7, new Uint8Array(0), 'EINVAL'],
      [9, new Uint8Array([0xff]), 'E2BIG'],
      [8, new Uint8Array(0), undefined],
      [9, new Uint8Array(0), 'ENOENT'],
    ]);
    const cache = parseTraceText(text('iommufd_ioas.mock_domain.access_pin.jsonl')).events.find(
      (e) => e.op === 'TEST_DEV_CHECK_CACHE',
    );
    expect(cache?.args?.fields).toEqual({
      size: 72n,
      id: 3n,
      __reserved: 0n,
      check_dev_cache: { id: 0n, cache: 0xbaddadn },
    });
  });

  it('read back the same after writing', () => {
    for (const file of FILES) {
      const first = parseTraceText(text(file), file);
      const written = [formatHeader(first.header), ...first.events.map(formatEvent)].join('\n');
      const again = parseTraceText(written, file);
      // The writer declares the version it writes; the corpus declares 1.
      expect(again.header, file).toEqual({ ...first.header, version: '1.1' });
      const before = first.events.map(withoutLine);
      const after = again.events.map(withoutLine);
      // isDeepStrictEqual is much faster than toEqual on 188k events; toEqual explains a failure.
      if (!isDeepStrictEqual(after, before)) expect(after, file).toEqual(before);
    }
  });
});
