/**
 * `inspect`, `diff` and `bisect` as a user runs them: output, exit status, and bad input as one
 * line on stderr with status 2. Run from the sources, so that they need no build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', input: '' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('inspect, diff, bisect on the command line', () => {
  const file = writeTrace('two.jsonl', TWO_CONTEXTS);

  it('inspect --at --json prints one document; the kernel option is the one replay takes', () => {
    const r = cli('inspect', file, '--at', '6', '--json', '--kernel', '6.6');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { at: { line: number }; state: { kernel: string } };
    expect(doc.at.line).toBe(6);
    expect(doc.state.kernel).toBe('6.6');
  });

  it('refuses bad input in one line, status 2', () => {
    for (const [args, message] of [
      [['inspect', file, '--at', '40'], `${file}: line 40 is past the end of the trace (its last event is on line 9)`],
      [['inspect', file, '--at', '6', '--select', '1:3/77'], 'no object 1:3/77 after line 6'],
      [['inspect', file, '--select', '1:3'], '--select needs --at (in the session: select S)'],
      [['diff', file, '9', '6'], 'diff 9 6: the first event comes after the second (A > B)'],
      [['bisect', file, '--until', 'locked_vm >'], 'predicate "locked_vm >": ends where a value should be'],
      [['inspect', join(file, 'nope'), '--at', '2'], `${join(file, 'nope')}:0: cannot read: ENOTDIR (not a directory)`],
    ] as const) {
      const r = cli(...args);
      expect(r.stderr, args.join(' ')).toBe(`iommufd-model: ${message}\n`);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
  });

  it('diff prints what changed; bisect exits 0 when the predicate comes to hold and 1 when it never does', () => {
    const d = cli('diff', file, '6', '9');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('  areas removed\n    1:3/1 0x1000000..0x100ffff pages 1\n');
    const found = cli('bisect', file, '--until', 'exists 1:4/1', '--json');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ found: { line: 8, op: 'IOAS_ALLOC' }, witness: ['1:4/1 exists (ioas)'] });
    const never = cli('bisect', file, '--until', 'invariant');
    expect(never.code).toBe(1);
    expect(never.stdout).toBe(`${file}: invariant: never holds (7 events)\n`);
  });

  it('inspect --html writes the page, or says in one line why it cannot', () => {
    const out = `${file}.html`;
    expect(cli('inspect', file, '--html', out, '--at', '6').code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('<script type="application/json" id="inspect-data">');
    const bad = cli('inspect', file, '--html', join(file, 'x.html'));
    expect(bad.stderr).toBe(`iommufd-model: cannot write ${join(file, 'x.html')}: ENOTDIR\n`);
    expect(bad.code).toBe(2);
  });
});
