/**
 * A trace that breaks off: the replay reports what it replayed up to the bad line, and the line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
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
