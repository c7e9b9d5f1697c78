/**
 * The change table and the releases as data: reading a kernel version in every form the format
 * accepts, `--kernel list`, and docs/kernel-versions.md made from the table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPS } from '../../events/ops.ts';
import { CHANGES } from '../../src/kernel/changes.ts';
import { kernelVersionsDoc } from '../../src/kernel/doc.ts';
import { kernelList } from '../../src/kernel/list.ts';
import { NEWEST_PROFILE, absentOp, hasNode, hasOlder, profileOf, structIn } from '../../src/kernel/profile.ts';
import { FIRST, NEWEST, RELEASES, compareReleases } from '../../src/kernel/releases.ts';
import { headerKernel } from '../../src/kernel/select.ts';
import { readKernel } from '../../src/kernel/version.ts';
import { parseHeader } from '../../events/header.ts';
import { IOMMU_HWPT_ALLOC, TEST_ADD_RESERVED } from '../../events/structs.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('reading a kernel version', () => {
  it.each([
    ['6.4', '6.4'],
    ['v6.4', '6.4'],
    ['6.4.12', '6.4'],
    ['6.4-rc3', '6.4'],
    ['v6.10.0-rc1', '6.10'],
    ['6.19', '6.19'],
    ['ffc253263a13', '6.6'],
    ['FFC253263A13', '6.6'],
    ['0dd3ee311255b8d1a1f5a2e7a2b1e8f0c0a1b2c3', '6.7'],
    ['5.10', '5.10'],
  ])('reads %s as %s without a warning', (text, release) => {
    expect(readKernel(text)).toEqual({ release, warning: null });
  });

  it.each([
    ['5.14.0-427.el9', '5.14'],
    ['6.8.0-45-generic', '6.8'],
    ['6.1.0+', '6.1'],
  ])('reads the distribution version %s as %s, warning that backports are not modelled', (text, release) => {
    const read = readKernel(text);
    expect(read).toMatchObject({ release });
    expect('warning' in read && read.warning).toMatch(/is read as .*: what the distribution backported is not modelled$/);
  });

  it('judges a version newer than the newest release as the newest, with a warning', () => {
    expect(readKernel('7.2')).toEqual({ release: NEWEST, warning: `7.2 is newer than ${NEWEST}, the newest release the model knows: judged as ${NEWEST}` });
  });

  it.each(['', 'six', '6', '6.x', 'linux-6.4', 'c9c3395d5e3', 'deadbeefdead', '6.4 ', 'list'])('refuses %j', (text) => {
    expect(readKernel(text)).toHaveProperty('error');
  });

  it('keeps a top-level kernel as free text and reads env.kernel, warning when it is not a version', () => {
    const header = (env: object, extra: object = {}) => parseHeader({ trace: 'iommufd', version: '1.1', env, ...extra });
    expect(headerKernel(header({}, { kernel: '6.4' }))).toEqual({ release: NEWEST, warning: null });
    expect(headerKernel(header({ kernel: 'v6.6' }))).toEqual({ release: '6.6', warning: null });
    expect(headerKernel(header({ kernel: 6.4 }))).toEqual({ release: NEWEST, warning: `env.kernel: 6.4 is not a string: judged as ${NEWEST}` });
    expect(headerKernel(header({ kernel: 'six' }))).toEqual({
      release: NEWEST,
      warning: `env.kernel: six is not a kernel version (6.4, v6.4, 6.4.12, 6.4-rc3, or the commit of a release tag): judged as ${NEWEST}`,
    });
  });
});

describe('the change table', () => {
  it('names a mainline commit and a known release in every row, oldest release first', () => {
    const names = RELEASES.map((r) => r.name);
    for (const c of CHANGES) {
      expect(c.commit).toMatch(/^[0-9a-f]{12}$/);
      expect(names).toContain(c.release);
    }
    for (let i = 1; i < CHANGES.length; i++) expect(compareReleases(CHANGES[i - 1]?.release ?? '', CHANGES[i]?.release ?? '')).toBeLessThanOrEqual(0);
    expect(RELEASES.find((r) => compareReleases(r.name, FIRST) >= 0)?.name).toBe(FIRST);
    expect(RELEASES.at(-1)?.name).toBe(NEWEST);
  });

  it('names only ops of the format', () => {
    for (const c of CHANGES) if (c.effect?.kind === 'op' || c.effect?.kind === 'flags') expect(OPS.has(c.effect.op)).toBe(true);
  });

  it('leaves nothing pending in the newest profile', () => {
    expect(NEWEST_PROFILE.absent.size + NEWEST_PROFILE.structs.size + NEWEST_PROFILE.pendingFlags.size).toBe(0);
    expect(NEWEST_PROFILE.older.size + NEWEST_PROFILE.missingNodes.size).toBe(0);
  });

  it('gives each release the struct sizes and ops it had', () => {
    const p66 = profileOf('6.6');
    expect(structIn(p66, TEST_ADD_RESERVED)).toMatchObject({ size: 56, minSize: 52 });
    expect(structIn(p66, IOMMU_HWPT_ALLOC)).toMatchObject({ size: 24, minSize: 24 });
    expect(structIn(profileOf('6.8'), IOMMU_HWPT_ALLOC)).toMatchObject({ size: 40, minSize: 24 });
    expect(structIn(profileOf('6.11'), IOMMU_HWPT_ALLOC)).toBe(IOMMU_HWPT_ALLOC);
    expect(absentOp(p66, 'HWPT_ALLOC')).toBeUndefined();
    expect(absentOp(p66, 'HWPT_SET_DIRTY_TRACKING')).toBe('ENOTTY');
    expect(absentOp(p66, 'TEST_DIRTY')).toBe('EOPNOTSUPP');
    expect(absentOp(profileOf('6.5'), 'HWPT_ALLOC')).toBe('ENOTTY');
    expect(hasOlder(profileOf('6.17'), 'compat-unmap-empty-enoent')).toBe(true);
    expect(hasOlder(profileOf('6.18'), 'compat-unmap-empty-enoent')).toBe(false);
    expect(hasNode(profileOf('6.1'), 'iommufd')).toBe(false);
    expect(hasNode(profileOf('6.2'), 'iommufd')).toBe(true);
    expect(hasNode(profileOf('6.5'), 'vfio-cdev')).toBe(false);
  });
});

describe('--kernel list', () => {
  it('prints every release with the rows it brought and its tag', () => {
    const lines = kernelList().trimEnd().split('\n');
    expect(lines[0]).toBe('release  rows  tag');
    expect(lines).toContain('6.2         2  c9c3395d5e3d');
    expect(lines).toContain('6.9         0  a38297e3fb01');
    expect(lines).toContain('6.18        1  7d0a66e4bb90');
    expect(lines).toHaveLength(RELEASES.length + 2);
    expect(lines.at(-1)).toBe(`${CHANGES.length} rows over ${RELEASES.length} releases; a trace without env.kernel is judged as ${NEWEST}, one before 6.2 has no /dev/iommu`);
  });
});

describe('docs/kernel-versions.md', () => {
  it('is made from the table', () => {
    const committed = readFileSync(join(ROOT, 'docs/kernel-versions.md'), 'utf8');
    expect(committed, 'docs/kernel-versions.md is out of date: run `npx tsx src/kernel/write-doc.ts`').toBe(kernelVersionsDoc());
  });
});
