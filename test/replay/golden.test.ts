/**
 * The model's answers must not move unless a change means them to: every event of the corpus,
 * the bundled example and the scenarios, replayed adopting recorded choices and with
 * `--own-choices`, is digested (errno, outputs, return value) per trace and compared with the
 * committed record. A change that alters results on purpose regenerates the record with
 * `npx vitest run test/replay/golden.test.ts -u` and says why in its commit.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { Replayer } from '../../replay/replayer.ts';
import { conformanceTraces } from '../conformance/corpus.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const inFolder = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(dir, f));
const TRACES = [...conformanceTraces(), ...inFolder(join(ROOT, 'examples')), ...inFolder(join(ROOT, 'test/replay/scenarios'))];

const encode = (_key: string, v: unknown): unknown =>
  typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;

function digest(file: string, ownChoices: boolean): string {
  const { header, events } = parseTraceText(readFileSync(file, 'utf8'), file);
  const replayer = new Replayer(header, { ownChoices });
  const hash = createHash('sha256');
  for (const event of events) {
    const { outcome, result } = replayer.feed(event);
    const answer = result === null ? 'unsupported' : JSON.stringify([result.errno, result.out, result.ret ?? null], encode);
    hash.update(`${event.line} ${event.op} ${outcome} ${answer}\n`);
  }
  return hash.digest('hex').slice(0, 32);
}

describe('golden results', () => {
  it('every event answers as recorded, in both modes', async () => {
    const record: Record<string, { adopted: string; own: string }> = {};
    for (const file of TRACES) record[basename(file)] = { adopted: digest(file, false), own: digest(file, true) };
    expect(Object.keys(record)).toHaveLength(TRACES.length);
    await expect(`${JSON.stringify(record, null, 1)}\n`).toMatchFileSnapshot('./golden-results.json');
  });
});
