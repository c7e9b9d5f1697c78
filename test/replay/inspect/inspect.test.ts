/**
 * `inspect --at`: every document it prints fits its JSON Schema (docs/inspect.schema.json), the
 * text tree names what the state holds, `--select` narrows to a context, an object or an IOVA
 * window, and every bad input is one InspectError line.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { InspectError } from '../../../replay/inspect/inspect-error.ts';
import { inspectAt, inspectCommand } from '../../../replay/inspect/inspect-command.ts';
import { parseSelector } from '../../../replay/inspect/select.ts';
import { conformanceTraces } from '../../conformance/corpus.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const ajv = new Ajv2020({ strict: true });
const validate = ajv.compile(JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../docs/inspect.schema.json'), 'utf8')));
const problems = (doc: unknown): string | null => (validate(doc) ? null : ajv.errorsText(validate.errors));

describe('inspect --at --json', () => {
  it('fits the schema, whole and selected, across the corpus', async () => {
    for (const file of conformanceTraces().slice(0, 106).filter((_, i) => i % 9 === 0)) {
      const text = readFileSync(file, 'utf8').split('\n');
      const line = Math.min(text.length - 1, 40);
      const doc = await inspectAt(file, { line }, { ownChoices: false }).catch((e: unknown) => (e instanceof InspectError ? null : Promise.reject(e)));
      if (doc === null) continue;
      expect(problems(JSON.parse(JSON.stringify(doc)))).toBeNull();
    }
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    for (const select of [undefined, '1:3', '1:4', '1:3/1', '1:3/1@0x1000000..0x1003fff', '1:3/4']) {
      const doc = await inspectAt(file, { line: 9 }, { ownChoices: false, ...(select === undefined ? {} : { select }) });
      expect(problems(JSON.parse(JSON.stringify(doc)))).toBeNull();
    }
  });

  it('shows the state after the event: the areas, the pages pinned and the counters', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const doc = await inspectAt(file, { line: 6 }, { ownChoices: false });
    expect(doc.at).toEqual({ line: 6, seq: 4, op: 'IOAS_MAP', outcome: 'ran', errno: null });
    if (!('state' in doc)) throw new Error('no state');
    const [ctx] = doc.state.contexts;
    expect(ctx?.name).toBe('1:3');
    const ioas = ctx?.objects.find((o) => o.type === 'ioas');
    expect(ioas).toMatchObject({ id: 1, state: 'populated', areas: [{ iova: '0x1000000', last: '0x100ffff', pages: 1, prot: ['READ', 'WRITE'] }] });
    expect(ctx?.pages).toMatchObject([{ id: 1, pinned_pages: 16, charged_pages: 16, owner: 1, account: 'user' }]);
    expect(doc.state.users).toEqual([{ uid: 1000, locked_vm: '0x10000' }]);
    expect(doc.state.processes[0]).toMatchObject({ pid: 1, pinned_vm: '0x10000', locked_vm: '0x0' });
  });

  it('the header line is the state before the first event, and seq:S the first event with that seq', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const before = await inspectAt(file, { line: 1 }, { ownChoices: false });
    expect(before.at).toEqual({ line: 1, seq: null, op: null, outcome: null, errno: null });
    expect(await inspectAt(file, { seq: 4 }, { ownChoices: false })).toEqual(await inspectAt(file, { line: 6 }, { ownChoices: false }));
  });

  it('--select narrows to a context, an object, or the areas meeting an IOVA window', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const at = async (line: number, select: string) => {
      const doc = await inspectAt(file, { line }, { ownChoices: false, select });
      if (!('selection' in doc)) throw new Error('no selection');
      return doc.selection;
    };
    expect(await at(9, '1:4')).toMatchObject({ kind: 'context', context: { name: '1:4', objects: [{ type: 'ioas', id: 1, areas: [] }] } });
    expect(await at(6, '1:3/1')).toMatchObject({ kind: 'object', context: '1:3', object: { type: 'ioas', id: 1 }, pages: [{ id: 1 }] });
    expect(await at(6, '1@0x100f000+0x2000')).toMatchObject({ kind: 'window', context: '1:3', areas: [{ iova: '0x1000000', last: '0x100ffff' }], pages: [{ id: 1 }] });
    expect(await at(6, '1@0x1010000..0x1ffffff')).toMatchObject({ kind: 'window', areas: [], pages: [] });
    // The unmap took the area and its pages object.
    expect(await at(9, '1:3/1@0x1000000..0x100ffff')).toMatchObject({ kind: 'window', areas: [], pages: [] });
  });

  it('prints a readable tree', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const text = await inspectCommand(file, '6', { ownChoices: false, json: false });
    expect(text.split('\n')[0]).toBe(`${file}: after line 6 seq 4 IOAS_MAP (ran)`);
    expect(text).toContain('\n    context 1:3 holders 1 account_mode default\n      ioas 1 populated users 2');
    expect(text).toContain('        area 0x1000000..0x100ffff pages 1 at byte 0x0 READ,WRITE');
    expect(text).toContain('      pages 1 user 0x7f0000000000+0x10000 writable owner pid 1 uid 1000 account user areas 1 pinned 16 charged 16');
    expect(text).toContain('    uid 1000 locked_vm 0x10000');
  });

  it('refuses bad input in one line', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const refusal = async (at: string, select?: string): Promise<string> => {
      try {
        await inspectCommand(file, at, { ownChoices: false, json: true, ...(select === undefined ? {} : { select }) });
      } catch (e) {
        if (!(e instanceof InspectError)) throw e;
        expect(e.message).not.toContain('\n');
        return e.message;
      }
      throw new Error('accepted');
    };
    expect(await refusal('10')).toBe(`${file}: line 10 is past the end of the trace (its last event is on line 9)`);
    expect(await refusal('4')).toBe(`${file}: line 4 is a blank or comment line, not an event`);
    expect(await refusal('0')).toContain('lines count from 1');
    expect(await refusal('x')).toBe('"x" is not a position: a trace line N, or seq:S');
    expect(await refusal('seq:99')).toBe(`${file}: no event has seq 99`);
    expect(await refusal('9', '1')).toBe('object 1 after line 9 is in several contexts: name one of 1:3/1, 1:4/1');
    expect(await refusal('9', '1:3/9')).toBe('no object 1:3/9 after line 9');
    expect(await refusal('9', '2:3')).toBe('no context 2:3 after line 9 (contexts: 1:3, 1:4)');
    expect(await refusal('9', '1:3/4@0x0')).toBe('object 4 after line 9 is a hwpt_paging, not an IOAS');
    expect(await refusal('9', '1:3/1@0x10..0x1')).toBe('IOVA window 0x10..0x1 is empty or past 2^64 - 1');
  });

  it('reads selectors: contexts, objects, windows', () => {
    expect(parseSelector('1:3')).toEqual({ kind: 'context', ctx: { pid: 1, fd: 3 } });
    expect(parseSelector('#2')).toEqual({ kind: 'context', ctx: { id: 2 } });
    expect(parseSelector('7')).toEqual({ kind: 'object', ref: { ctx: null, id: 7 } });
    expect(parseSelector('1:3/0x7')).toEqual({ kind: 'object', ref: { ctx: { pid: 1, fd: 3 }, id: 7 } });
    expect(parseSelector('1@4096')).toEqual({ kind: 'window', ref: { ctx: null, id: 1, first: 4096n, last: 4096n } });
    expect(parseSelector('#2/1@0x1000+0x1000')).toEqual({ kind: 'window', ref: { ctx: { id: 2 }, id: 1, first: 0x1000n, last: 0x1fffn } });
    for (const bad of ['', 'a', '1:', '1:3:4', '1/', '1@', '1@0x1000+0', '1@1..', 'x/1']) expect(() => parseSelector(bad), bad).toThrow(InspectError);
  });
});
