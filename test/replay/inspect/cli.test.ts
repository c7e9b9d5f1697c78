/**
 * `inspect`, `diff` and `bisect` as a user runs them: output, exit status, and bad input as one
 * line on stderr with status 2; `--from`, which imports a capture first, and the warnings
 * `replay` prints, printed the same. Run from the sources, so that they need no build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NEWEST } from '../../../src/kernel/releases.ts';
import { traceHeader } from '../../fixtures.ts';
import { TWO_CONTEXTS, writeTrace } from './traces.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CAPTURES = join(ROOT, 'test/captures');
/** Two maps QEMU logged as refused; the importer adds the open and the IOAS the log does not show. */
const UEFI = join(CAPTURES, 'qemu-log.qemu-devel-clg-uefi-ioas-map-einval-20231117.txt');
/** Has a line the importer does not read. */
const YILIU = join(CAPTURES, 'qemu-log.kvm-yiliu-iommufd-rfc-vtd-eaddrinuse-20220413.txt');

function cli(...args: string[]) {
  return cliWith('', ...args);
}

function cliWith(input: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', input });
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

  it('warns of an env.kernel that cannot be read, as replay does; --kernel overrides it', () => {
    const header = traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: [] }], kernel: 'six point six' });
    const unreadable = writeTrace('unreadable-kernel.jsonl', [header, ...TWO_CONTEXTS.slice(1)]);
    const warning = `${unreadable}: env.kernel: six point six is not a kernel version (6.4, v6.4, 6.4.12, 6.4-rc3, or the commit of a release tag): judged as ${NEWEST}\n`;
    expect(cli('replay', '--jobs', '1', unreadable).stderr).toBe(warning);
    for (const [input, args] of [
      ['', ['inspect', unreadable, '--at', '6']],
      ['at 6\n', ['inspect', unreadable]],
      ['', ['inspect', unreadable, '--html', `${unreadable}.html`]],
      ['', ['diff', unreadable, '3', '9']],
      ['', ['bisect', unreadable, '--until', 'exists 1:4/1']],
    ] as const) {
      const r = cliWith(input, ...args);
      expect(r.stderr, args.join(' ')).toBe(warning);
      expect(r.code, args.join(' ')).toBe(0);
    }
    const chosen = cli('inspect', unreadable, '--at', '6', '--kernel', '6.6', '--json');
    expect(chosen.stderr).toBe('');
    expect((JSON.parse(chosen.stdout) as { state: { kernel: string } }).state.kernel).toBe('6.6');
  });
});

describe('inspect, diff, bisect --from: a capture, imported first', () => {
  it("goes by the imported trace's lines, naming the capture line of the event", () => {
    const json = cli('inspect', UEFI, '--from', 'qemu', '--at', '4', '--json');
    expect(json.stderr).toBe('');
    const doc = JSON.parse(json.stdout) as { file: string; at: object };
    expect(doc.file).toBe(`${UEFI} (imported)`);
    expect(doc.at).toEqual({ line: 4, source_line: 2, seq: null, op: 'IOAS_MAP', outcome: 'diverged', errno: null });
    expect(cli('inspect', UEFI, '--from', 'qemu', '--at', '4').stdout.startsWith(`${UEFI} (imported): after line 4 (capture line 2) IOAS_MAP (diverged)\n`)).toBe(true);
    const diff = cli('diff', '--from', 'qemu', UEFI, '2', '5');
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain(`${UEFI} (imported): from after line 2 (capture line 2) OPEN (ok) to after line 5 (capture line 6) IOAS_MAP (diverged)\n  objects created\n    1:10/2 ioas\n`);
    const found = cli('bisect', '--from', 'qemu', UEFI, '--until', 'exists 1:10/2', '--json');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ file: `${UEFI} (imported)`, found: { line: 3, source_line: 2, op: 'IOAS_ALLOC' }, witness: ['1:10/2 exists (ioas)'] });
    const session = cliWith('at 5\nprev\n', 'inspect', '--from', 'qemu', UEFI);
    expect(session.stdout.split('\n').filter((l) => l.startsWith(UEFI))).toEqual([
      `${UEFI} (imported): after line 5 (capture line 6) IOAS_MAP (diverged)`,
      `${UEFI} (imported): after line 4 (capture line 2) IOAS_MAP (diverged)`,
    ]);
  });

  it("prints the importer's warnings as replay --from does; --strict makes them the error", () => {
    const warnings = `${YILIU}:7: a message the importer does not read: "vtd_address_space_unmap, notify iommu start: ff000000, end: 100000000 - 2"\n${YILIU}: 1 line not read\n`;
    for (const args of [
      ['inspect', YILIU, '--at', '3'],
      ['diff', YILIU, '3', '5'],
      ['bisect', YILIU, '--until', 'exists 1:3/1'],
    ]) {
      const r = cli(...args, '--from', 'qemu');
      expect(r.stderr, args.join(' ')).toBe(warnings);
      expect(r.code, args.join(' ')).toBe(0);
      const strict = cli(...args, '--from', 'qemu', '--strict');
      expect(strict.stderr, args.join(' ')).toMatch(/^iommufd-model: .*:7: a message the importer does not read/);
      expect(strict.code).toBe(2);
      expect(strict.stdout).toBe('');
    }
  });

  it("refuses a line past the imported trace's end, and a capture in no format, in one line", () => {
    const past = cli('inspect', UEFI, '--from', 'qemu', '--at', '40');
    expect(past.stderr).toBe(`iommufd-model: ${UEFI} (imported): line 40 is past the end of the trace (its last event is on line 5)\n`);
    expect(past.code).toBe(2);
    const notStrace = cli('diff', join(CAPTURES, 'README.md'), '1', '2', '--from', 'strace');
    expect(notStrace.stderr).toBe(`iommufd-model: ${join(CAPTURES, 'README.md')}: not strace output of VFIO or iommufd ioctls: no line of it reads as one\n`);
    expect(notStrace.code).toBe(2);
  });
});
