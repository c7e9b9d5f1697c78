/**
 * The command as a user runs it (the built `dist/src/cli.js`): reports, exit codes, and one
 * clear line for bad input, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
    expect(r.stdout).toMatch(/iommufd \(actual\) +VFIO type1 \(yardstick\) +SPAPR TCE \(yardstick\)\n +pid 4242 +262048 \/ 0 +524096 \/ 0 +262048 \/ 0\n/);
    expect(r.stdout).toContain('leaks: none');
    expect(readFileSync(html, 'utf8')).toContain('<script type="application/json" id="audit-data">');
  });

  it('--bugs: the fuzzer finds a switched-on bug, and the trace it writes replays only with that bug', () => {
    const out = join(dir, 'bugs');
    const r = cli('fuzz', '--seed', '3', '--runs', '50', '--max-steps', '200', '--bugs', 'double-charge', '--out', out);
    expect(r.code).toBe(1);
    const run = /fuzz: run (\d+): /.exec(r.stdout)?.[1];
    const file = join(out, `counterexample-3-${run}.jsonl`);
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

  it('bad options: one line, exit 2, no usage; --help has the usage', () => {
    const r = cli('replay', '--max-line-bytes', 'lots', 'examples/vm-boot-hotplug.jsonl');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^iommufd-model: .*must be a positive integer\n$/);
    const help = cli('replay', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: iommufd-model replay');
  });
});

describe('iommufd-model on many files and hostile ones', () => {
  const BAD_DEVICE = JSON.stringify({ trace: 'iommufd', version: 1, env: { devices: [{ name: 'dev0', kind: 'other', dirty: 3 }] } });

  it('closes every file: 300 files, a third with a bad header device and a third malformed, under a limit of 64 open files', () => {
    const many = join(dir, 'many');
    mkdirSync(many);
    const files: string[] = [];
    for (let i = 0; i < 100; i++) {
      files.push(trace(`many/device-${i}.jsonl`, [BAD_DEVICE, '{"op":"OPEN"}']));
      files.push(trace(`many/malformed-${i}.jsonl`, [HEADER, '{"op":"OPEN","expect":{}}', '{"op":']));
      files.push(trace(`many/good-${i}.jsonl`, [HEADER, '{"op":"OPEN","expect":{}}']));
    }
    for (const command of ['replay', 'audit']) {
      const r = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$@"', 'sh', process.execPath, CLI, command, '--json', ...files], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status).toBe(2);
      const reports = command === 'replay' ? JSON.parse(r.stdout).traces : JSON.parse(r.stdout).audits.map((a: { replay: unknown }) => a.replay);
      expect(reports).toHaveLength(300);
      reports.forEach((t: { file: string; error?: string; ok: number }, i: number) => {
        expect(t.file).toBe(files[i]);
        if (i % 3 === 0) expect(t.error).toMatch(/device-\d+\.jsonl:1: .*dirty/);
        if (i % 3 === 1) expect(t.error).toMatch(/malformed-\d+\.jsonl:3: /);
        if (i % 3 === 2) expect(t.error).toBeUndefined();
        if (i % 3 !== 0) expect(t.ok).toBe(1);
      });
      const errors = r.stderr.trim().split('\n');
      expect(errors).toHaveLength(200);
      expect(r.stderr).not.toMatch(/EMFILE|garbage collection|\n\s+at /);
    }
  }, 60_000);

  const diverging = (name: string, n: number) =>
    trace(name, [HEADER, '{"op":"OPEN"}', ...Array.from({ length: n }, () => '{"op":"IOAS_ALLOC","expect":{"errno":"EINVAL"}}')]);

  it('a reader that goes away ends the run quietly with status 141', () => {
    const file = diverging('big.jsonl', 5000);
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$@" | head -1', 'bash', process.execPath, CLI, 'replay', '--max-divergences', '5000', file], { encoding: 'utf8' });
    expect(r.stdout).toBe(`${file}: 5001 events: 0 ok, 5000 diverged, 1 ran, 0 unsupported\n`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it.skipIf(!existsSync('/dev/full'))('a full disk is one line and exit 2', () => {
    const full = openSync('/dev/full', 'w');
    try {
      for (const args of [['replay', 'examples/vm-boot-hotplug.jsonl'], ['audit', '--json', 'examples/vm-boot-hotplug.jsonl']]) {
        const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(/^iommufd-model: cannot write output: ENOSPC[^\n]*\n$/);
      }
    } finally {
      closeSync(full);
    }
  });

  it('--max-divergences: at most N listed per file, the rest counted, in text and --json', () => {
    const file = diverging('five.jsonl', 5);
    const text = cli('replay', '--max-divergences', '2', file);
    expect(text.code).toBe(1);
    expect(text.stdout.match(/^ {2}line /gm)).toHaveLength(2);
    expect(text.stdout).toContain('  ... 3 more divergences not listed (--max-divergences)');
    const json = JSON.parse(cli('replay', '--json', '--max-divergences', '2', file).stdout);
    expect(json.traces[0]).toMatchObject({ diverged: 5, divergencesOmitted: 3 });
    expect(json.traces[0].divergences).toHaveLength(2);
    // The default keeps 1000: five are all listed, and nothing says a list was cut.
    const all = JSON.parse(cli('replay', '--json', file).stdout);
    expect(all.traces[0].divergences).toHaveLength(5);
    expect(all.traces[0]).not.toHaveProperty('divergencesOmitted');
  });

  it('a file name with a line break stays on one line in the report and the error', () => {
    const file = trace('two\nlines.jsonl', [HEADER, '{"op":"OPEN","expect":{}}', '{"op":']);
    const r = cli('replay', file);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stdout).toContain('two\\u000alines.jsonl: 1 events');
  });

  it('audit: an unwritable --html still prints the report, then one line, exit 2', () => {
    const html = join(dir, 'no-such-dir', 'report.html');
    for (const json of [true, false]) {
      const r = cli('audit', ...(json ? ['--json'] : []), '--html', html, 'examples/vm-boot-hotplug.jsonl');
      expect(r.code).toBe(2);
      if (json) expect(JSON.parse(r.stdout).audits).toHaveLength(1);
      else expect(r.stdout).toMatch(/pid 4242 +262048 \/ 0 +524096 \/ 0 +262048 \/ 0/);
      expect(r.stderr).toBe(`iommufd-model: cannot write ${html}: ENOENT\n`);
    }
  });
});

describe('iommufd-model fuzz arguments', () => {
  it.each([
    ['a seed past 32 bits', ['--seed', '4294967296'], /--seed.*must be an integer from 0 to 4294967295/],
    ['a negative seed', ['--seed', '-1'], /--seed.*must be an integer from 0 to 4294967295/],
    ['a seed that is not an integer', ['--seed', '1e3'], /--seed.*must be an integer/],
    ['an empty op list', ['--ops', ','], /--ops.*names no op/],
    ['an unknown op', ['--ops', 'OPEN,BOGUS'], /^iommufd-model: --ops: the fuzzer generates no op named BOGUS; it generates OPEN, /],
    ['an --out that is a file', ['--out', 'package.json'], /^iommufd-model: --out package\.json: not a writable directory \(ENOTDIR\)/],
    ['an --out under a file', ['--out', 'package.json/x'], /^iommufd-model: --out package\.json\/x: not a writable directory \(ENOTDIR\)/],
  ])('%s: one line before the banner, exit 2', (_what, args, message) => {
    const r = cli('fuzz', '--runs', '1', ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('creates a missing --out directory before it runs; takes the largest 32-bit seed', () => {
    const out = join(dir, 'fuzz-out', 'nested');
    const r = cli('fuzz', '--seed', '4294967295', '--runs', '2', '--max-steps', '5', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fuzz: seed 4294967295');
    expect(statSync(out).isDirectory()).toBe(true);
  });

  it('--help prints the usage, exit 0', () => {
    const r = cli('fuzz', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: iommufd-model fuzz');
  });
});

describe('iommufd-model --jobs, --shard and merge', () => {
  const CORPUS = join(ROOT, 'test/conformance/corpus');
  const FILES = [
    'examples/vm-boot-hotplug.jsonl',
    ...['iommufd_ioas.mock_domain.access_domain_destory', 'iommufd.default.map_cmd', 'vfio_compat_mock_domain.Ver1v2.simple_close'].map((t) => join(CORPUS, `${t}.jsonl`)),
    'test/replay/scenarios/s2-rlimit-no-partial-charge.jsonl',
    'test/replay/scenarios/s3-copy-vs-second-map.jsonl',
  ];
  const files = () => [...FILES, trace('stops.jsonl', [HEADER, '{"op":"OPEN","expect":{}}', '{"op":']), diverging('diverges.jsonl', 2)];
  const diverging = (name: string, n: number) =>
    trace(name, [HEADER, '{"op":"OPEN"}', ...Array.from({ length: n }, () => '{"op":"IOAS_ALLOC","expect":{"errno":"EINVAL"}}')]);
  const save = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  /** What a run printed, but the time it took. */
  const untimed = (r: { code: number | null; stdout: string; stderr: string }) => ({ ...r, stdout: r.stdout.replace(/ in [0-9.]+ s \([0-9]+ steps\/s\)/, '') });

  it('replay and audit: --jobs 2 prints what --jobs 1 prints, text and --json, byte for byte', () => {
    const all = files();
    for (const args of [['replay'], ['replay', '--json', '--invariants'], ['audit', '--json']]) {
      const one = cli(...args, '--jobs', '1', ...all);
      expect(one.code).toBe(2);
      expect(one.stderr).toMatch(/stops\.jsonl:3: /);
      expect(cli(...args, '--jobs', '2', ...all)).toEqual(one);
    }
  }, 60_000);

  it('replay and audit: shards merged, in any order, are the run over every file', () => {
    const all = files();
    for (const command of ['replay', 'audit']) {
      const reports = [3, 1, 2].map((i) => {
        const part = cli(command, '--json', '--shard', `${i}/3`, ...all);
        expect(part.stdout).toContain(`"shard":{"index":${i},"count":3}`);
        return save(`${command}-${i}.json`, part.stdout);
      });
      for (const json of [['--json'], []]) {
        const whole = cli(command, ...json, ...all);
        expect(cli('merge', ...json, ...reports)).toEqual(whole);
      }
    }
  }, 60_000);

  it('fuzz: --jobs 2 and shards merged give the campaign --jobs 1 gives: the lowest failing run, rerun alone from what it prints', () => {
    const out = join(dir, 'campaign');
    const campaign = ['--seed', '1', '--runs', '40', '--max-steps', '30', '--bugs', 'domain-added-twice', '--out', out];
    const one = cli('fuzz', ...campaign, '--jobs', '1', '--json');
    expect(one.code).toBe(1);
    const report = JSON.parse(one.stdout);
    expect(report).toMatchObject({ command: 'fuzz', seed: 1, shard: { index: 1, count: 1 }, options: { runs: 40, maxSteps: 30 } });
    expect(cli('fuzz', ...campaign, '--jobs', '2', '--json')).toEqual(one);
    expect(untimed(cli('fuzz', ...campaign, '--jobs', '2'))).toEqual(untimed(cli('fuzz', ...campaign, '--jobs', '1')));
    const parts = [1, 2, 3, 4].map((i) => cli('fuzz', ...campaign, '--json', '--shard', `${i}/4`).stdout);
    const found = parts.map((p) => JSON.parse(p).counterexample?.run).filter((run) => run !== undefined);
    expect(found.length).toBeGreaterThan(1);
    expect(report.counterexample.run).toBe(Math.min(...found));
    const merged = cli('merge', '--json', ...parts.map((p, i) => save(`fuzz-${i}.json`, p)));
    expect(merged).toEqual(one);
    // The rerun printed makes that run alone and goes straight to the same shrunk trace.
    const text = cli('fuzz', ...campaign);
    const rerun = /rerun it alone with: iommufd-model fuzz (.*)\n/.exec(text.stdout)?.[1]?.split(' ') ?? [];
    expect(rerun).toEqual(['--seed', '1', '--run', String(report.counterexample.run), '--path', report.counterexample.path, '--max-steps', '30', '--bugs', 'domain-added-twice']);
    const again = JSON.parse(cli('fuzz', ...rerun, '--out', join(dir, 'rerun'), '--json').stdout);
    expect(again.counterexample).toMatchObject({ run: report.counterexample.run, shrinkRuns: 0 });
    expect(readFileSync(again.counterexample.file, 'utf8')).toBe(readFileSync(report.counterexample.file, 'utf8'));
  }, 120_000);

  it('fuzz: a campaign that finds nothing is the same at any split', () => {
    const campaign = ['--seed', '7', '--runs', '9', '--max-steps', '20'];
    const one = cli('fuzz', ...campaign, '--jobs', '1', '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ runs: 9, counterexample: null });
    expect(cli('fuzz', ...campaign, '--jobs', '2', '--json')).toEqual(one);
    const parts = [2, 1].map((i) => save(`quiet-${i}.json`, cli('fuzz', ...campaign, '--json', '--shard', `${i}/2`).stdout));
    expect(cli('merge', '--json', ...parts)).toEqual(one);
  }, 60_000);

  it.each([
    ['replay', ['--shard', '3/2']],
    ['replay', ['--shard', '0/4']],
    ['audit', ['--shard', '1/0']],
    ['audit', ['--jobs', '0']],
    ['fuzz', ['--jobs', '0']],
    ['fuzz', ['--shard', '3/2']],
  ])('%s %j: one line, exit 2', (command, args) => {
    const r = cli(command, ...args, ...(command === 'fuzz' ? ['--runs', '1'] : ['examples/vm-boot-hotplug.jsonl']));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^iommufd-model: option '--(shard|jobs) .*' argument '.*' is invalid\. must be [^\n]*\n$/);
  });

  it('merge refuses reports of different runs, overlapping shards, a missing shard: one line, exit 2', () => {
    const fuzzPart = (shard: string, seed = '7') => save(`part-${seed}-${shard.replace('/', 'of')}.json`, cli('fuzz', '--seed', seed, '--runs', '4', '--max-steps', '5', '--json', '--shard', shard).stdout);
    const [a, b] = [fuzzPart('1/2'), fuzzPart('2/2')];
    const replayPart = save('replay-part.json', cli('replay', '--json', '--shard', '1/2', 'examples/vm-boot-hotplug.jsonl').stdout);
    const whole = save('whole.json', cli('replay', '--json', 'examples/vm-boot-hotplug.jsonl').stdout);
    for (const [reports, message] of [
      [[a, fuzzPart('2/2', '8')], /are not shards of one run: not the same seed/],
      [[a, replayPart], /are not shards of one run: not the same command/],
      [[a, b, b], /overlap: both are shard 2\/2/],
      [[a, fuzzPart('2/3')], /overlap: shards 2\/3 and 1\/2 split the units differently/],
      [[b], /shard 1\/2 is missing/],
      [[whole], /not the --json report of a shard/],
    ] as const) {
      const r = cli('merge', ...reports);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^iommufd-model: merge: [^\\n]*${message.source}[^\\n]*\\n$`));
    }
  }, 60_000);
});
