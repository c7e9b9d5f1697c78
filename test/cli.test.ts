/**
 * The command as a user runs it (the built `dist/src/cli.js`): reports, exit codes, and one
 * clear line for bad input, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEADER_LINE as HEADER } from './fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/src/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function trace(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('iommufd-model', () => {
  it('--version prints the package version, exit 0', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = cli(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });
});

describe('iommufd-model replay', () => {
  it('replays the bundled example clean, adopting choices or making its own, invariants checked', () => {
    for (const flags of [['--invariants'], ['--own-choices', '--invariants'], ['--invariants-full']]) {
      const r = cli('replay', ...flags, 'examples/vm-boot-hotplug.jsonl');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('23 events: 23 ok, 0 diverged, 0 ran, 0 unsupported, 0 invariant violations');
    }
  });

  it('audits the bundled example: type1 would charge the copied guest RAM twice', () => {
    const html = join(dir, 'vm.html');
    const r = cli('audit', 'examples/vm-boot-hotplug.jsonl', '--html', html);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('peak 262048 vs 524096 (type1 charges 2.00x)');
    expect(r.stdout).toContain('leaks: none');
    expect(readFileSync(html, 'utf8')).toContain('<script type="application/json" id="audit-data">');
  });

  it('--bugs: the fuzzer finds a switched-on bug, and the trace it writes replays only with that bug', () => {
    const out = join(dir, 'bugs');
    const r = cli('fuzz', '--seed', '3', '--runs', '50', '--max-steps', '200', '--bugs', 'double-charge', '--out', out);
    expect(r.code).toBe(1);
    const file = join(out, 'counterexample-3.jsonl');
    expect(r.stdout).toContain(`replay it with: iommufd-model replay --invariants --bugs double-charge ${file}`);
    expect(cli('replay', '--invariants', '--bugs', 'double-charge', file).code).toBe(1);
    expect(cli('replay', '--invariants', file).code).toBe(0);
    // The whole-state check reports the same violations at the same events.
    const report = (flag: string) => JSON.parse(cli('replay', '--json', flag, '--bugs', 'double-charge', file).stdout) as { totals: { violations: number } };
    expect(report('--invariants').totals.violations).toBeGreaterThan(0);
    expect(report('--invariants-full')).toEqual(report('--invariants'));
    const unknown = cli('replay', '--bugs', 'no-such-bug', file);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no bug named no-such-bug');
  });

  it('fuzz: prints its seed, finds nothing in the model, exit 0', () => {
    const r = cli('fuzz', '--seed', '7', '--runs', '20', '--max-steps', '30');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fuzz: seed 7');
    expect(r.stdout).toContain('fuzz: no invariant violated');
  });

  it('reports a divergence with line, seq, op, expected, actual and the failed check; exit 1', () => {
    const file = trace('diverge.jsonl', [HEADER, '{"op":"OPEN"}', '{"seq":9,"op":"IOAS_ALLOC","args":{"flags":1},"expect":{}}']);
    const r = cli('replay', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('line 3 seq 9 IOAS_ALLOC: expected {}, actual {"errno":"EOPNOTSUPP"} [EOPNOTSUPP iommufd_ioas_alloc_ioctl: flags is not zero]');
  });

  it('a divergence names the kernel check that failed: after the actual in text, `check` beside `actual` in --json', () => {
    const file = trace('check.jsonl', [
      HEADER,
      '{"op":"OPEN"}',
      '{"op":"IOAS_ALLOC"}',
      '{"op":"TEST_MOCK_DOMAIN","args":{"id":1}}',
      '{"seq":7,"op":"IOAS_MAP","args":{"ioas_id":1,"flags":["FIXED_IOVA","READABLE"],"user_va":"0x7f0000000000","length":"0x1000","iova":"0x1000100"},"expect":{}}',
    ]);
    const text = cli('replay', file);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('line 5 seq 7 IOAS_MAP: expected {}, actual {"errno":"EINVAL"} [EINVAL iopt_check_iova: iova unaligned]');
    const json = cli('replay', '--json', file);
    expect(json.code).toBe(1);
    const [divergence] = JSON.parse(json.stdout).traces[0].divergences;
    expect(divergence.actual).toEqual({ errno: 'EINVAL' });
    expect(divergence.check).toBe('EINVAL iopt_check_iova: iova unaligned');
  });

  it('a divergence of an event marked unsure does not fail the run', () => {
    const file = trace('unsure.jsonl', [HEADER, '{"op":"OPEN"}', '{"op":"IOAS_ALLOC","args":{"flags":1},"expect":{},"unsure":true}']);
    const r = cli('replay', '--json', file);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).totals).toMatchObject({ unsure_diverged: 1, diverged: 0 });
  });

  it('--json prints exactly one JSON object, also when a file is malformed; exit 2', () => {
    const bad = trace('bad.jsonl', [HEADER, '{"op":"OPEN","expect":{}}', '{"op":"IOAS_MAP","args":{"length":"0xzz"}}']);
    const good = trace('good.jsonl', [HEADER, '{"op":"OPEN","expect":{}}']);
    const r = cli('replay', '--json', bad, good);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.traces[0]).toMatchObject({ events: 1, ok: 1 });
    expect(report.traces[0].error).toMatch(/bad\.jsonl:3: /);
    expect(report.traces[1]).toMatchObject({ events: 1, ok: 1 });
    expect(report.traces[1].error).toBeUndefined();
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['malformed JSON', '{"op":"OPEN"'],
    ['an unknown op', '{"op":"IOAS_FROB"}'],
    ['a wrong field type', '{"op":"DESTROY","args":{"id":"one"}}'],
    ['a number out of range', '{"op":"DESTROY","args":{"id":4294967296}}'],
    ['a key the struct does not have', '{"op":"DESTROY","args":{"ioas_id":1}}'],
  ])('%s: one line naming file and line, exit 2, no stack trace', (_what, line) => {
    const file = trace('malformed.jsonl', [HEADER, line]);
    const r = cli('replay', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: .+\n$`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a 10 MB line is malformed, events before it are reported', () => {
    const file = trace('huge.jsonl', [HEADER, '{"op":"OPEN","expect":{}}', `{"op":"OPEN","note":"${'x'.repeat(10 * 1024 * 1024)}"}`]);
    const r = cli('replay', '--json', file);
    expect(r.code).toBe(2);
    const t = JSON.parse(r.stdout).traces[0];
    expect(t).toMatchObject({ events: 1, ok: 1 });
    expect(t.error).toMatch(/huge\.jsonl:3: /);
  });

  it('an unreadable file is reported, not thrown', () => {
    const r = cli('replay', '--json', join(dir, 'missing.jsonl'));
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).traces[0].error).toContain('cannot read');
  });

  it('bad options: exit 2 with usage', () => {
    const r = cli('replay', '--max-line-bytes', 'lots', 'examples/vm-boot-hotplug.jsonl');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be a positive integer');
  });
});
