/**
 * `iommufd-model import` and `replay --from` as a user runs them (the built dist/src/cli.js):
 * the trace on stdout or in a file, unread lines as warnings (errors with --strict), a capture
 * in no format as one line and exit 2, reports that name the capture line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureFile } from './capture-files.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const CAPTURES = join(ROOT, 'test/captures');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const UEFI = join(CAPTURES, 'qemu-log.qemu-devel-clg-uefi-ioas-map-einval-20231117.txt');
const YILIU = join(CAPTURES, 'qemu-log.kvm-yiliu-iommufd-rfc-vtd-eaddrinuse-20220413.txt');

describe('iommufd-model import', () => {
  it('writes the trace (format 1.1) on stdout, or with -o in a file', () => {
    const r = cli('import', 'qemu', UEFI);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ trace: 'iommufd', version: '1.1', env: { memory: 'any' } });
    expect(lines.at(-1)).toMatchObject({ source_line: 6, op: 'IOAS_MAP', expect: { errno: 'EINVAL' } });
    const out = captureFile([], 'out.jsonl');
    expect(cli('import', 'qemu', UEFI, '-o', out).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(r.stdout);
  });
  it('unread lines are warnings on stderr, with their line and a count; --strict makes them the error', () => {
    const r = cli('import', 'qemu', YILIU);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`${YILIU}:7: a message the importer does not read: "vtd_address_space_unmap, notify iommu start: ff000000, end: 100000000 - 2"\n${YILIU}: 1 line not read\n`);
    const strict = cli('import', 'qemu', YILIU, '--strict');
    expect(strict.code).toBe(2);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/^iommufd-model: .*:7: a message the importer does not read/);
  });
  it('a capture in no format, a kernel-side log, an unknown format: one line, exit 2', () => {
    for (const args of [
      ['import', 'strace', join(CAPTURES, 'README.md')],
      ['import', 'qemu', join(CAPTURES, 'ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt')],
      ['import', 'ltrace', UEFI],
      ['import', 'qemu', join(CAPTURES, 'nope.txt')],
    ]) {
      const r = cli(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('iommufd-model import qemu --join', () => {
  const GONCHARUK = join(CAPTURES, 'qemu-log.qemu-devel-goncharuk-syslog-20200113.txt');
  const FTRACE = join(CAPTURES, 'ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt');
  const KERNEL_LOG = join(CAPTURES, 'kernel-log.kvm-yiliu-iommufd-rfc-iopt-unmap-20220413.txt');
  it('joins the run\'s ftrace: the maps become recorded successes; replay --from takes it too', () => {
    const r = cli('import', 'qemu', GONCHARUK, '--join', FTRACE);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const maps = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['op'] === 'VFIO_IOMMU_MAP_DMA');
    expect(maps.map((e) => e['expect'])).toEqual([{}, {}, {}, {}, {}]);
    const replayed = JSON.parse(cli('replay', '--from', 'qemu', '--join', FTRACE, '--json', '--jobs', '1', GONCHARUK).stdout) as { totals: object };
    expect(replayed.totals).toMatchObject({ events: 9, ok: 7, diverged: 0 });
  });
  it('--join is repeatable; kernel-side lines it cannot match are warnings naming their file, counted apart', () => {
    const r = cli('import', 'qemu', GONCHARUK, '--join', FTRACE, '--join', KERNEL_LOG);
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[5]).toBe(`${KERNEL_LOG}:7: a kernel message the join cannot match (no upstream message gives a VFIO or iommufd ioctl's range): "iommufd_ioas_unmap 253 iova: ff000000 length: 1000000, rc: -2"`);
    expect(lines[6]).toBe(`${KERNEL_LOG}: 6 lines not joined`);
    expect(cli('import', 'qemu', GONCHARUK, '--join', KERNEL_LOG, '--strict').code).toBe(2);
  });
});

describe('iommufd-model replay --from', () => {
  it('imports and replays in one step, reporting under the capture name, divergences with their capture line', () => {
    const r = cli('replay', '--from', 'qemu', '--jobs', '1', UEFI);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${UEFI}: 4 events: 2 ok, 2 diverged, 0 ran, 0 unsupported`);
    expect(r.stdout).toContain('line 4 (capture line 2) IOAS_MAP: expected {"errno":"EINVAL"}');
    const json = JSON.parse(cli('replay', '--from', 'qemu', '--json', '--jobs', '1', UEFI).stdout) as {
      traces: { file: string; unknown: number; divergences: { line: number; source_line: number }[] }[];
    };
    expect(json.traces[0]).toMatchObject({ file: UEFI, unknown: 0 });
    expect(json.traces[0]?.divergences.map((d) => [d.line, d.source_line])).toEqual([
      [4, 2],
      [5, 6],
    ]);
  });
  it('counts the events the capture does not decide as unknown, without failing the run', () => {
    const r = cli('replay', '--from', 'strace', '--json', '--jobs', '1', join(CAPTURES, 'strace.cpaelzer-blog-vfio-slow-startup-x86.txt'));
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { totals: object }).totals).toMatchObject({ events: 5, ok: 1, unknown: 4, diverged: 0 });
  });
});
