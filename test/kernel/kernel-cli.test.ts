/**
 * `--kernel` as a user runs it (the built `dist/src/cli.js`): `list`, a version that cannot be
 * read (one line, exit 2), a header `env.kernel` that cannot be read (a warning, the trace still
 * replayed), and a 2023 syzkaller reproducer imported and replayed under its release.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importText } from '../../replay/import/command.ts';
import { kernelList } from '../../src/kernel/list.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-kernel-'));
const REPRODUCER = join(ROOT, 'test/captures/syz.xupengfe-230328-pfn_reader_user_pin-min.syz');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A compat unmap of an empty range, recorded as 6.6 answered it. */
const COMPAT_UNMAP = [
  '{"op":"OPEN"}',
  '{"op":"IOAS_ALLOC"}',
  '{"op":"VFIO_IOAS","args":{"ioas_id":1,"op":"SET"}}',
  '{"op":"VFIO_IOMMU_UNMAP_DMA","args":{"iova":"0x100000","size":"0x1000"},"expect":{"errno":"ENOENT","out":{"size":0}}}',
].join('\n');

describe('--kernel', () => {
  it('list prints the releases and the rows each one brought, without any file, exit 0', () => {
    for (const command of ['replay', 'audit']) {
      const r = cli(command, '--kernel', 'list');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(kernelList());
    }
  });

  it('a version that cannot be read is one line on stderr, exit 2', () => {
    const r = cli('replay', '--kernel', 'six', file('any.jsonl', '{"trace":"iommufd","version":1}\n'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      "iommufd-model: option '--kernel <v>' argument 'six' is invalid. six is not a kernel version (6.4, v6.4, 6.4.12, 6.4-rc3, or the commit of a release tag)",
    ]);
  });

  it('overrides env.kernel, and warns of a distribution version', () => {
    const trace = file('compat.jsonl', `{"trace":"iommufd","version":"1.1","env":{"kernel":"6.19"}}\n${COMPAT_UNMAP}\n`);
    expect(cli('replay', '--jobs', '1', trace).code).toBe(1);
    const r = cli('replay', '--jobs', '1', '--kernel', '6.6.0-14.fc39', trace);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('iommufd-model: --kernel 6.6.0-14.fc39 is read as 6.6: what the distribution backported is not modelled\n');
  });

  it('an env.kernel that cannot be read is a warning on stderr; the trace is replayed as the newest release', () => {
    const trace = file('unreadable.jsonl', `{"trace":"iommufd","version":"1.1","env":{"kernel":"six point six"}}\n${COMPAT_UNMAP}\n`);
    const r = cli('replay', '--jobs', '1', '--json', trace);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).totals).toMatchObject({ events: 4, ok: 0, diverged: 1, ran: 3 });
    expect(r.stderr).toBe(`${trace}: env.kernel: six point six is not a kernel version (6.4, v6.4, 6.4.12, 6.4-rc3, or the commit of a release tag): judged as 6.19\n`);
  });
});

describe('a 2023 syzkaller reproducer (size 0x38 test ops)', () => {
  const header = file('kernel-6.4.json', '{"env":{"kernel":"6.4"}}');

  it('imports under its release: CREATE_ACCESS succeeds there, and the access fd it gave is the one ACCESS_RW names', () => {
    const lines = (options: object) => importText('syz', REPRODUCER, { strict: true, ...options }).text.trimEnd().split('\n');
    const rw = (trace: string[]) => JSON.parse(trace.at(-1) ?? '{}') as { op: string; args: { id: number } };
    expect(rw(lines({ header }))).toMatchObject({ op: 'TEST_ACCESS_RW', args: { id: 5 } });
    const fromKernel = lines({ kernel: '6.4' });
    expect(rw(fromKernel)).toMatchObject({ op: 'TEST_ACCESS_RW', args: { id: 5 } });
    expect(JSON.parse(fromKernel[0] ?? '{}').env.kernel).toBe('6.4');
    expect(rw(lines({}))).toMatchObject({ op: 'TEST_ACCESS_RW', args: { id: 4294967295 } });
  });

  it('replays from the capture under 6.4 with no divergence, the release from --header or --kernel', () => {
    for (const release of [['--header', header], ['--kernel', '6.4']]) {
      const r = cli('replay', '--jobs', '1', '--json', '--from', 'syz', ...release, REPRODUCER);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).totals).toMatchObject({ events: 9, diverged: 0, unsupported: 0 });
    }
  });
});
