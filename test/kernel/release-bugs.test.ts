/**
 * Bugs of a release: the table as data, its switches turned on by the profiles of the releases
 * that had them (a wrapping IOAS_MAP answers as 6.2 did), what such a switch breaks reported
 * as that release's kernel quirk, the 2023 syzkaller crash reproducers reporting the events
 * that set their crashes off, and docs/release-bugs.md made from the table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHeader } from '../../events/header.ts';
import { parseTraceText } from '../../events/index.ts';
import { importCapture } from '../../replay/import/import.ts';
import { traceText } from '../../replay/import/trace-draft.ts';
import { Replayer } from '../../replay/replayer.ts';
import { FuzzSession, FuzzViolation } from '../../src/fuzz/session.ts';
import { releaseBugsDoc } from '../../src/kernel/bugs-doc.ts';
import { RELEASE_BUGS, bugSwitchesOf, bugsOf, releaseSpan, releasesWith } from '../../src/kernel/release-bugs.ts';
import { FIRST, NEWEST, RELEASES, compareReleases } from '../../src/kernel/releases.ts';
import { BUGS, type BugName } from '../../src/model/mutants.ts';
import { createWorld } from '../../src/model/world-init.ts';

const ROOT = join(import.meta.dirname, '../..');
const CAPTURES = join(ROOT, 'test/captures');

function replay(text: string, options: { kernel?: string; invariants?: boolean; bugs?: readonly BugName[] } = {}) {
  const { header, events } = parseTraceText(text, 'trace.jsonl');
  const r = new Replayer(header, {
    ownChoices: false,
    invariants: options.invariants ?? false,
    bugs: new Set(options.bugs ?? []),
    ...(options.kernel === undefined ? {} : { kernel: options.kernel }),
  });
  const answers = events.map((e) => r.feed(e));
  return { r, answers };
}

/** A capture imported as the release it is replayed as, as `replay --from syz --kernel` does. */
const imported = (file: string, kernel: string): string => traceText(importCapture('syz', join(CAPTURES, file), { kernel }).trace);

describe('the table', () => {
  it('gives each bug a fixing commit, the releases that have it and a switch or a crash', () => {
    const names = RELEASES.map((r) => r.name);
    for (const bug of RELEASE_BUGS) {
      expect(bug.fixedBy).toMatch(/^[0-9a-f]{12}$/);
      expect(names).toContain(bug.since);
      expect(names).toContain(bug.fixedIn);
      expect(compareReleases(bug.since, bug.fixedIn)).toBeLessThan(0);
      expect(bug.switch !== undefined || bug.crash !== undefined).toBe(true);
      if (bug.switch !== undefined) expect(Object.hasOwn(BUGS, bug.switch)).toBe(true);
    }
    expect(new Set(RELEASE_BUGS.map((b) => b.name)).size).toBe(RELEASE_BUGS.length);
  });

  it('knows which releases have a bug: from the one that brought it to the one before the fix', () => {
    const check = RELEASE_BUGS.find((b) => b.name === 'selftest-check-overflow');
    expect(check === undefined ? [] : releasesWith(check)).toEqual(['6.2', '6.3']);
    expect(releaseSpan(['6.2', '6.3'])).toBe('6.2–6.3');
    expect(releaseSpan(['6.2'])).toBe('6.2');
    expect(bugsOf('6.2').map((b) => b.name)).toEqual(['uptr-overflow', 'access-unpin-past-end', 'selftest-check-overflow']);
    expect(bugsOf('6.3').map((b) => b.name)).toEqual(['selftest-check-overflow']);
    expect(bugSwitchesOf('6.2')).toEqual(['uptr-overflow-accepted']);
    expect(bugsOf('6.7').map((b) => b.name)).toEqual(['access-list-id-overwrite']);
    // Before iommufd, and between the fixes, no release has one of these.
    expect(bugsOf('5.14')).toEqual([]);
    expect(bugsOf('6.4')).toEqual([]);
    expect(bugsOf('6.8')).toEqual([]);
  });

  it('the newest release has no bug on: the model is the faithful one', () => {
    expect(bugsOf(NEWEST)).toEqual([]);
    const header = parseHeader({ trace: 'iommufd', version: 1 });
    expect(createWorld(header).config.bugs.size).toBe(0);
    expect([...createWorld(header, { kernel: FIRST }).config.bugs]).toEqual(['uptr-overflow-accepted']);
    // --bugs adds to the profile's switches.
    expect([...createWorld(header, { kernel: FIRST, bugs: ['double-charge'] }).config.bugs].sort()).toEqual(['double-charge', 'uptr-overflow-accepted']);
  });
});

/** A 6.2 capture: IOAS_MAP of a user range that wraps, which 6.2 accepted. */
const WRAP = [
  '{"trace":"iommufd","version":1}',
  '{"op":"OPEN","expect":{"out":{"fd":3}}}',
  '{"op":"IOAS_ALLOC","fd":3,"expect":{"out":{"out_ioas_id":1}}}',
  '{"op":"IOAS_MAP","fd":3,"args":{"ioas_id":1,"user_va":"0xfffffffffffff000","length":"0x2000","flags":7},"expect":{}}',
].join('\n');

describe('a bug with a uAPI effect', () => {
  it('answers as 6.2 did under 6.2, and as today from 6.3 on', () => {
    const old = replay(WRAP, { kernel: '6.2' });
    expect(old.answers.at(-1)?.outcome).toBe('ok');
    expect(old.r.findings).toEqual([]);
    for (const kernel of ['6.3', NEWEST]) {
      const now = replay(WRAP, { kernel });
      expect(now.answers.at(-1)?.outcome).toBe('diverged');
      expect(now.answers.at(-1)?.result?.errno).toBe('EOVERFLOW');
    }
  });

  it('breaks an invariant: a kernel quirk of 6.2, not a violation', () => {
    const { r } = replay(WRAP, { kernel: '6.2', invariants: true });
    expect(r.violations).toEqual([]);
    expect(r.quirks).toEqual([
      {
        line: 4,
        seq: null,
        op: 'IOAS_MAP',
        quirk: 'uptr-overflow',
        detail: 'pages-in-range: ctx 1 pages 1 runs past the end of the address space (a bug of 6.2, fixed by e4395701330f)',
      },
    ]);
  });

  it('its WARN is found where the wrapping pages are pinned: a domain filled from them', () => {
    const fill = [
      '{"trace":"iommufd","version":"1.1","env":{"memory":"any"}}',
      '{"op":"OPEN","expect":{"out":{"fd":3}}}',
      '{"op":"IOAS_ALLOC","fd":3,"expect":{"out":{"out_ioas_id":1}}}',
      '{"op":"IOAS_MAP","fd":3,"args":{"ioas_id":1,"user_va":"0xfffffffffffff000","length":"0x2000","flags":7,"iova":"0x1000000"},"expect":{}}',
      '{"op":"TEST_MOCK_DOMAIN","fd":3,"args":{"id":1}}',
    ].join('\n');
    const { r } = replay(fill, { kernel: '6.2' });
    expect(r.findings).toEqual([{ line: 5, seq: null, op: 'TEST_MOCK_DOMAIN', bug: 'uptr-overflow', fixed_by: 'e4395701330f', releases: ['6.2'] }]);
  });

  it('switched on by --bugs, it is a violation, under 6.2 as under 6.3', () => {
    for (const kernel of ['6.2', '6.3']) {
      const { r } = replay(WRAP, { kernel, invariants: true, bugs: ['uptr-overflow-accepted'] });
      expect(r.quirks).toEqual([]);
      expect(r.violations.map((v) => [v.line, v.invariant])).toEqual([[4, 'pages-in-range']]);
    }
  });

  it('fuzz under 6.2 takes it as the quirk it is; with the switch from --bugs it is a violation', () => {
    const events = [
      { op: 'OPEN', args: { path: '/dev/iommu' } },
      { op: 'IOAS_ALLOC', fd: 3 },
      { op: 'IOAS_MAP', fd: 3, args: { ioas_id: 1, user_va: '0xfffffffffffff000', length: '0x2000', flags: 7 } },
      { op: 'IOAS_ALLOC', fd: 3 },
    ];
    const run = (bugs: ReadonlySet<BugName>) => {
      const session = new FuzzSession(false, bugs, '6.2');
      for (const e of events) session.apply(e);
      return session;
    };
    expect(run(new Set()).steps).toBe(4);
    expect(() => run(new Set(['uptr-overflow-accepted']))).toThrow(FuzzViolation);
  });
});

describe('the crash reproducers', () => {
  const cases: readonly (readonly [file: string, kernel: string, fixed: string, bug: string, fixedBy: string, releases: readonly string[], ops: readonly string[]])[] = [
    ['syz.xupengfe-230224-iommufd_test.c', '6.3', '6.4', 'selftest-check-overflow', 'fd8c1a4aee97', ['6.2', '6.3'], ['TEST_MD_CHECK_REFS']],
    ['syz.xupengfe-230314-iopt_area_unfill_domain.c', '6.2', '6.3', 'access-unpin-past-end', '727c28c1cef2', ['6.2'], ['DESTROY', 'DESTROY']],
    ['syz.xupengfe-230314-pfn_reader_user_pin.syz', '6.2', '6.3', 'uptr-overflow', 'e4395701330f', ['6.2'], ['TEST_ACCESS_RW']],
    ['syz.xupengfe-230328-pfn_reader_user_pin-min.syz', '6.2', '6.3', 'uptr-overflow', 'e4395701330f', ['6.2'], ['TEST_ACCESS_RW']],
    ['syz.xupengfe-230328-pfn_reader_user_pin-min.c', '6.2', '6.3', 'uptr-overflow', 'e4395701330f', ['6.2'], ['TEST_ACCESS_RW']],
  ];

  it.each(cases)('%s reports its finding under %s, none once the fix is in (%s) nor under the newest', (file, kernel, fixed, bug, fixedBy, releases, ops) => {
    const { r } = replay(imported(file, kernel), { kernel, invariants: true });
    expect(r.findings.map((f) => f.op)).toEqual(ops);
    for (const f of r.findings) expect(f).toMatchObject({ bug, fixed_by: fixedBy, releases });
    expect(r.violations).toEqual([]);
    expect(r.counts.diverged).toBe(0);
    for (const later of [fixed, NEWEST]) expect(replay(imported(file, later), { kernel: later }).r.findings).toEqual([]);
  });

  it('--max-findings caps the findings listed; the rest are counted', () => {
    const { header, events } = parseTraceText(imported('syz.xupengfe-230314-iopt_area_unfill_domain.c', '6.2'), 'unfill.jsonl');
    const r = new Replayer(header, { ownChoices: false, kernel: '6.2', maxFindings: 1 });
    for (const e of events) r.feed(e);
    expect(r.findings).toHaveLength(1);
    expect(r.findingsOmitted).toBe(1);
  });
});

/** An access moved to an IOAS whose area breaks the page alignment it needs: refused, and its list id lost in 6.6 and 6.7. */
const REPLACE = [
  '{"trace":"iommufd","version":"1.1","env":{"memory":"any"}}',
  '{"op":"OPEN","expect":{"out":{"fd":3}}}',
  '{"op":"IOAS_ALLOC","fd":3,"expect":{"out":{"out_ioas_id":1}}}',
  '{"op":"IOAS_ALLOC","fd":3,"expect":{"out":{"out_ioas_id":2}}}',
  '{"op":"IOAS_MAP","fd":3,"args":{"ioas_id":2,"flags":7,"user_va":"0x100800","iova":"0x10800","length":"0x800"},"expect":{}}',
  '{"op":"TEST_CREATE_ACCESS","fd":3,"args":{"id":1,"flags":1},"expect":{"out":{"out_access_fd":4}}}',
  '{"op":"TEST_ACCESS_REPLACE_IOAS","fd":3,"args":{"id":4,"ioas_id":2},"expect":{"errno":"EADDRINUSE"}}',
  '{"op":"CLOSE","args":{"fd":4},"expect":{}}',
].join('\n');

describe('a WARN set off by a refused call', () => {
  it('is found at the refused ACCESS_REPLACE_IOAS in 6.6 and 6.7, not once fixed in 6.8', () => {
    for (const kernel of ['6.6', '6.7']) {
      const { r } = replay(REPLACE, { kernel });
      expect(r.counts.diverged).toBe(0);
      expect(r.findings).toEqual([
        { line: 7, seq: null, op: 'TEST_ACCESS_REPLACE_IOAS', bug: 'access-list-id-overwrite', fixed_by: 'aeb004c0cd69', releases: ['6.6', '6.7'] },
      ]);
    }
    const fixed = replay(REPLACE, { kernel: '6.8' });
    expect(fixed.r.counts.diverged).toBe(0);
    expect(fixed.r.findings).toEqual([]);
  });
});

describe('docs/release-bugs.md', () => {
  it('is made from the table', () => {
    const committed = readFileSync(join(ROOT, 'docs/release-bugs.md'), 'utf8');
    expect(committed, 'docs/release-bugs.md is out of date: run `npx tsx src/kernel/write-bugs-doc.ts`').toBe(releaseBugsDoc());
  });
});
