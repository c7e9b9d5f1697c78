/**
 * The interactive `inspect FILE`: commands read from stdin when it is not a terminal, each
 * answered in turn; a bad command is one line on stderr, the session goes on, and the exit
 * status says so. Run in-process, then as the command a user runs.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { interactive } from '../../../replay/inspect/session.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

async function session(file: string, commands: readonly string[], json = false) {
  let out = '';
  const errors: string[] = [];
  const output = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  const status = await interactive(file, { ownChoices: false, json, checkpointEvery: 2 }, { input: Readable.from([commands.join('\n')]), output, error: (l) => errors.push(l) });
  return { status, out, errors };
}

describe('inspect FILE (interactive)', () => {
  it('goes to events by line, seq, next and prev, narrowed by select', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const { status, out, errors } = await session(file, ['at 3', 'select 1:3/1', 'next', 'next', 'prev', 'at seq:7', 'select', 'prev']);
    expect(errors).toEqual([]);
    expect(status).toBe(0);
    const heads = out.split('\n').filter((l) => l.startsWith(file));
    expect(heads).toEqual([
      `${file}: after line 3 seq 2 IOAS_ALLOC (ran)`,
      `${file}: after line 3 seq 2 IOAS_ALLOC (ran), 1:3/1`,
      `${file}: after line 5 seq 3 TEST_MOCK_DOMAIN (ran), 1:3/1`,
      `${file}: after line 6 seq 4 IOAS_MAP (ran), 1:3/1`,
      `${file}: after line 5 seq 3 TEST_MOCK_DOMAIN (ran), 1:3/1`,
      `${file}: after line 9 seq 7 IOAS_UNMAP (ran), 1:3/1`,
      `${file}: after line 9 seq 7 IOAS_UNMAP (ran)`,
      `${file}: after line 8 seq 6 IOAS_ALLOC (ran)`,
    ]);
  });

  it('finds forward from where it is, and diffs', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const { out, errors } = await session(file, ['find exists 1:3/1', 'find exists 1:3/1', 'find pinned_vm == 0', 'diff 6 9'], true);
    expect(errors).toEqual([]);
    const docs = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const finds = docs.filter((d) => 'find' in d);
    expect(finds.map((d) => (d['found'] as { line: number } | null)?.line ?? null)).toEqual([3, 5, 9]);
    expect(finds[0]).toMatchObject({ witness: ['1:3/1 exists (ioas)'] });
    expect(docs[docs.length - 1]).toMatchObject({ from: { line: 6 }, to: { line: 9 }, changes: { contexts: { opened: ['1:4'] } } });
  });

  it('answers a bad command in one line and goes on; the status is 2', async () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const { status, out, errors } = await session(file, ['prev', 'at 4', 'at 99', 'find', 'select 1:', 'frobnicate', 'next extra', 'at 9', 'next', 'show', 'quit', 'at 2']);
    expect(errors).toEqual([
      'before the first event: there is no previous one',
      `${file}: line 4 is a blank or comment line, not an event`,
      `${file}: line 99 is past the end of the trace (its last event is on line 9)`,
      'predicate "": is empty',
      'context FD: "" is not a number (decimal or 0x hex)',
      '"frobnicate" is no command (help lists them)',
      'next takes no argument',
      `${file}: no event after line 9`,
    ]);
    expect(status).toBe(2);
    // `show` answered; nothing after `quit` did.
    expect(out.split('\n').filter((l) => l.startsWith(file))).toEqual([`${file}: after line 9 seq 7 IOAS_UNMAP (ran)`, `${file}: after line 9 seq 7 IOAS_UNMAP (ran)`]);
  });

  it('reads its commands from stdin when stdin is not a terminal, as the command', () => {
    const file = writeTrace('two.jsonl', TWO_CONTEXTS);
    const root = resolve(import.meta.dirname, '../../..');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli.ts'), 'inspect', file], { cwd: root, input: 'at 6\nselect 1:3/1@0x1000000\nnope\n', encoding: 'utf8' });
    expect(run.stdout).toContain(`${file}: after line 6 seq 4 IOAS_MAP (ran), 1:3/1@0x1000000\n  ioas 1 of context 1:3, IOVAs 0x1000000..0x1000000\n    areas\n      area 0x1000000..0x100ffff`);
    expect(run.stderr).toBe('iommufd-model: "nope" is no command (help lists them)\n');
    expect(run.status).toBe(2);
  });
});
