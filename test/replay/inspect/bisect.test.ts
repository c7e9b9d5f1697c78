/**
 * `bisect --until`: the predicate language (read, never evaluated as code; every malformed one
 * refused in one line), the first event after which a predicate holds however often it turns
 * true and false again, and the first invariant violation of each mutant's counterexample, as
 * `replay --invariants` reports it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bisect, formatBisect } from '../../../replay/inspect/bisect.ts';
import { InspectError } from '../../../replay/inspect/inspect-error.ts';
import { parsePredicate } from '../../../replay/inspect/predicate.ts';
import { replayFile } from '../../../replay/replay-file.ts';
import { fuzz } from '../../../src/fuzz/fuzz.ts';
import { BUG_NAMES } from '../../../src/model/mutants.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const MAP = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' } };
const UNMAP = { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0x1000000', length: '0x10000' } };

describe('predicates', () => {
  it('read counters, objects, IOVAs, invariants, not, and, or', () => {
    expect(parsePredicate('user_locked_vm uid=1000 > 0x10000')).toEqual({ kind: 'counter', counter: 'user_locked_vm', subject: 1000, cmp: '>', value: 0x10000n });
    expect(parsePredicate('locked_vm pid=1>=4194304')).toEqual({ kind: 'counter', counter: 'locked_vm', subject: 1, cmp: '>=', value: 0x400000n });
    expect(parsePredicate('pinned_vm == 0')).toEqual({ kind: 'counter', counter: 'pinned_vm', subject: null, cmp: '==', value: 0n });
    expect(parsePredicate('exists 1:3/5')).toEqual({ kind: 'exists', ref: { ctx: { pid: 1, fd: 3 }, id: 5 } });
    expect(parsePredicate('mapped 1@0x1000')).toEqual({ kind: 'mapped', ref: { ctx: null, id: 1, first: 0x1000n, last: 0x1000n } });
    expect(parsePredicate('invariant')).toEqual({ kind: 'invariant', name: null });
    expect(parsePredicate('not invariant charge-within-limit or exists 2 and not exists 3')).toEqual({
      kind: 'or',
      operands: [
        { kind: 'not', operand: { kind: 'invariant', name: 'charge-within-limit' } },
        { kind: 'and', operands: [{ kind: 'exists', ref: { ctx: null, id: 2 } }, { kind: 'not', operand: { kind: 'exists', ref: { ctx: null, id: 3 } } }] },
      ],
    });
  });

  it('refuse malformed ones in one line, never running them', () => {
    const refusal = (text: string): string => {
      try {
        parsePredicate(text);
      } catch (e) {
        if (!(e instanceof InspectError)) throw e;
        expect(e.message).not.toContain('\n');
        return e.message;
      }
      throw new Error(`accepted ${text}`);
    };
    expect(refusal('')).toBe('predicate "": is empty');
    expect(refusal('locked_vm uid=1 > 0')).toBe('predicate "locked_vm uid=1 > 0": locked_vm takes pid=N, not "uid=1"');
    expect(refusal('locked_vm pid=1 =~ 0')).toBe('predicate "locked_vm pid=1 =~ 0": "=~" is no comparison: <= >= == != < >');
    expect(refusal('locked_vm > 1e3')).toBe('predicate "locked_vm > 1e3": locked_vm value: "1e3" is not a number (decimal or 0x hex)');
    expect(refusal('locked_vm >')).toBe('predicate "locked_vm >": ends where a value should be');
    expect(refusal('exists')).toBe('predicate "exists": ends where an object ([PID:FD/]ID) should be');
    expect(refusal('mapped 1')).toContain('names no IOVA');
    expect(refusal('exists 1 exists 2')).toBe('predicate "exists 1 exists 2": unexpected "exists" (join predicates with and, or)');
    expect(refusal('process.exit(1)')).toBe('predicate "process.exit(1)": "process.exit(1)" is no predicate: invariant, exists, mapped, locked_vm, pinned_vm, user_locked_vm, not');
    expect(refusal('invariant Bad_Name')).toContain('is no invariant name');
    expect(refusal('not')).toBe('predicate "not": ends where a predicate should be');
  });
});

describe('bisect', () => {
  it('finds the first event after which a predicate holds, and says what it read there', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const at = async (until: string) => (await bisect(file, until, { ownChoices: false })).found?.line ?? null;
    expect(await at('user_locked_vm uid=1000 > 0')).toBe(6);
    expect(await at('exists 1:4/1')).toBe(8);
    expect(await at('mapped 1:3/1@0x100ffff')).toBe(6);
    expect(await at('mapped 1:3/1@0x100ffff+2')).toBeNull();
    expect(await at('not mapped 1:3/1@0x1000000 and exists 1:3/1')).toBe(3);
    expect(await at('exists 1:3/4 or exists 1:4/1')).toBe(5);
    expect(await at('locked_vm pid=9 >= 0')).toBeNull();
    const doc = await bisect(file, 'pinned_vm pid=1 >= 0x10000', { ownChoices: false });
    expect(formatBisect(doc)).toBe(`${file}: pinned_vm pid=1 >= 0x10000: first holds after line 6 seq 4 IOAS_MAP (ran)\n  pinned_vm of pid 1 is 0x10000`);
    const never = await bisect(file, 'invariant', { ownChoices: false });
    expect(formatBisect(never)).toBe(`${file}: invariant: never holds (7 events)`);
  });

  it('finds the first time a predicate holds that turns true and false again, across checkpoints', async () => {
    const lines = [TWO_CONTEXTS[0] as object, { op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
    for (let i = 0; i < 30; i++) lines.push(MAP, UNMAP);
    // The 21st map pins 16 pages again: a counter that was there before, and goes again.
    const file = writeTrace('flip.jsonl', lines);
    for (const every of [1, 4, 1000]) {
      const doc = await bisect(file, 'pinned_vm == 0x10000 and user_locked_vm uid=1000 == 0x10000', { ownChoices: false, checkpointEvery: every });
      expect(doc.found).toMatchObject({ line: 5, op: 'IOAS_MAP' });
      expect((await bisect(file, 'pinned_vm == 0x10000 and not exists 9', { ownChoices: false, checkpointEvery: every })).found?.line).toBe(5);
    }
  });

  it('finds the first invariant violation of each mutant counterexample, where replay --invariants reports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-bisect-'));
    const checked: string[] = [];
    for (const name of BUG_NAMES) {
      const bugs = new Set([name]);
      const found = fuzz({ seed: 20261125, runs: 150, maxSteps: 60, shrink: false, faultInjection: false, bugs }).counterexample;
      if (found === null || !/invariant \S+ violated/.test(found.message)) continue;
      const file = join(dir, `${name}.jsonl`);
      writeFileSync(file, found.trace);
      const replay = await replayFile(file, { ownChoices: false, invariants: true, bugs });
      const first = replay.violations?.[0];
      expect(first, name).toBeDefined();
      const doc = await bisect(file, 'invariant', { ownChoices: false, bugs, checkpointEvery: 8 });
      expect(doc.found?.line, name).toBe(first?.line);
      expect(doc.witness[0], name).toBe(`invariant ${first?.invariant} violated: ${first?.detail}`);
      // The faithful model breaks nothing there.
      expect((await bisect(file, 'invariant', { ownChoices: false })).found, name).toBeNull();
      checked.push(name);
    }
    process.stdout.write(`bisect checked the counterexamples of ${checked.length} mutants: ${checked.join(', ')}\n`);
    expect(checked.length).toBeGreaterThanOrEqual(8);
  }, 600_000);
});
