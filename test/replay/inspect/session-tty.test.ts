/**
 * The interactive `inspect FILE` on a terminal: stdin is a TTY, so the session greets, prompts
 * after every answer, echoes what is typed in raw mode (restored at the end), answers `at N`,
 * `next`, `prev`, `diff A B` and `find P`, says what is wrong with a bad command without ending,
 * and ends on `quit`, Ctrl-D or Ctrl-C. Driven in-process through streams that say they are a
 * terminal, as `process.stdin` does on one.
 */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { interactive } from '../../../replay/inspect/session.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const PROMPT = 'inspect> ';
// Cursor moves and line clears readline draws the prompt with.
const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** A terminal around a session: what it shows, and keys typed into it. */
class Terminal {
  private shown = '';
  readonly rawModes: boolean[] = [];
  readonly errors: string[] = [];
  readonly input = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode: (mode: boolean) => {
      this.rawModes.push(mode);
      this.input.isRaw = mode;
      return this.input;
    },
  });
  readonly status: Promise<number>;
  private ended = false;

  constructor(file: string) {
    const output = new Writable({
      write: (chunk, _enc, done) => {
        this.shown += String(chunk);
        done();
      },
    });
    this.status = interactive(file, { ownChoices: false, json: false, checkpointEvery: 2 }, { input: this.input, output, error: (l) => this.errors.push(l) }).finally(() => {
      this.ended = true;
    });
  }

  get screen(): string {
    return plain(this.shown);
  }

  private prompts(): number {
    return this.screen.split(PROMPT).length - 1;
  }

  /** Waits for the `n`-th prompt, or for the session to end. */
  async prompted(n: number): Promise<void> {
    for (let waited = 0; this.prompts() < n && !this.ended; waited += 5) {
      if (waited > 10_000) throw new Error(`no prompt ${n}; the screen:\n${this.screen}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Types `keys` and Enter; the answer, between the echoed line and the next prompt. */
  async type(keys: string): Promise<string> {
    const before = this.screen.length;
    const n = this.prompts();
    this.input.write(`${keys}\r`);
    await this.prompted(n + 1);
    const shown = this.screen.slice(before);
    expect(shown.startsWith(`${keys}\r\n`), shown).toBe(true);
    return shown.slice(keys.length + 2).replace(new RegExp(`${PROMPT}$`), '');
  }
}

const firstLine = (answer: string): string => answer.split('\n')[0] ?? '';

describe('inspect FILE on a terminal', () => {
  const file = writeTrace('two.jsonl', TWO_CONTEXTS);

  it('greets and prompts, goes by at, next, prev, diffs and finds, and quits', async () => {
    const t = new Terminal(file);
    await t.prompted(1);
    expect(t.screen).toBe(`${file}: before the first event (header, line 1); help lists the commands\n${PROMPT}`);
    expect(t.input.isRaw).toBe(true);
    expect(firstLine(await t.type('at 3'))).toBe(`${file}: after line 3 seq 2 IOAS_ALLOC (ran)`);
    expect(firstLine(await t.type('next'))).toBe(`${file}: after line 5 seq 3 TEST_MOCK_DOMAIN (ran)`);
    const mapped = await t.type('next');
    expect(firstLine(mapped)).toBe(`${file}: after line 6 seq 4 IOAS_MAP (ran)`);
    expect(mapped).toContain('        area 0x1000000..0x100ffff pages 1 at byte 0x0 READ,WRITE\n');
    expect(firstLine(await t.type('prev'))).toBe(`${file}: after line 5 seq 3 TEST_MOCK_DOMAIN (ran)`);
    const diff = await t.type('diff 6 9');
    expect(firstLine(diff)).toBe(`${file}: from after line 6 seq 4 IOAS_MAP (ran) to after line 9 seq 7 IOAS_UNMAP (ran)`);
    expect(diff).toContain('  areas removed\n    1:3/1 0x1000000..0x100ffff pages 1\n');
    const found = await t.type('find exists 1:4/1');
    expect(found.split('\n').slice(0, 3)).toEqual([`exists 1:4/1: first holds after line 8 seq 6 IOAS_ALLOC (ran)`, '  1:4/1 exists (ioas)', `${file}: after line 8 seq 6 IOAS_ALLOC (ran)`]);
    // `find` moved the session: `next` goes on from there.
    expect(firstLine(await t.type('next'))).toBe(`${file}: after line 9 seq 7 IOAS_UNMAP (ran)`);
    t.input.write('quit\r');
    expect(await t.status).toBe(0);
    expect(t.errors).toEqual([]);
    expect(t.rawModes).toEqual([true, false]);
    expect(t.screen.endsWith(`${PROMPT}quit\r\n`)).toBe(true);
  });

  it('says what is wrong with a command and prompts again: the session goes on, its status is 2', async () => {
    const t = new Terminal(file);
    await t.prompted(1);
    expect(await t.type('at 99')).toBe('');
    expect(await t.type('prev')).toBe('');
    expect(await t.type('find locked_vm >')).toBe('');
    expect(await t.type('diff 9 6')).toBe('');
    expect(await t.type('frobnicate')).toBe('');
    expect(t.errors).toEqual([
      `${file}: line 99 is past the end of the trace (its last event is on line 9)`,
      'before the first event: there is no previous one',
      'predicate "locked_vm >": ends where a value should be',
      'diff 9 6: the first event comes after the second (A > B)',
      '"frobnicate" is no command (help lists them)',
    ]);
    expect(firstLine(await t.type('at seq:4'))).toBe(`${file}: after line 6 seq 4 IOAS_MAP (ran)`);
    // Ctrl-D on an empty line ends the session, as in a shell.
    t.input.write('\x04');
    expect(await t.status).toBe(2);
    expect(t.rawModes).toEqual([true, false]);
  });

  it('ends on Ctrl-C, leaving raw mode', async () => {
    const t = new Terminal(file);
    await t.prompted(1);
    t.input.write('at 6');
    t.input.write('\x03');
    expect(await t.status).toBe(0);
    expect(t.rawModes).toEqual([true, false]);
    expect(t.screen).not.toContain('after line 6');
  });
});
