/**
 * The audit follows the state by what each event changed and keeps what it reports: its targets
 * equal a reading of the whole snapshot after every event, its samples stay bounded and exact,
 * and its table of pages objects keeps the live ones and the largest that went away.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { AuditSamples } from '../../replay/audit-samples.ts';
import { TargetTracker, type Targets, measure } from '../../replay/audit-targets.ts';
import { GONE_PAGES_KEPT, auditFile } from '../../replay/audit.ts';
import { Replayer } from '../../replay/replayer.ts';
import { conformanceTraces } from '../conformance/corpus.ts';
import { DEFAULT_HEADER_LINE as HEADER } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-audit-'));

/** Type1's charge for an access's pins moves with its pages object's owner, the access unchanged. */
const CHANGE_PROCESS_WITH_ACCESS = join(dir, 'change-process-with-access.jsonl');
writeFileSync(
  CHANGE_PROCESS_WITH_ACCESS,
  `${[
    '{"trace":"iommufd","version":1,"env":{"memory":"declared","processes":[{"pid":1,"uid":0,"rlimit_memlock":"unlimited","caps":["CAP_SYS_RESOURCE"]}]}}',
    '{"op":"MEMFD_CREATE","args":{"hugetlb":false},"expect":{"out":{"fd":3}}}',
    '{"op":"FTRUNCATE","args":{"fd":3,"length":"0x10000"},"expect":{}}',
    '{"op":"MMAP","args":{"addr":"0x7f0000000000","length":"0x10000","prot":["READ","WRITE"],"shared":true,"hugepage":false,"fd":3,"offset":0},"expect":{"out":{"addr":"0x7f0000000000"}}}',
    '{"op":"OPEN","args":{"path":"/dev/iommu"},"expect":{"out":{"fd":4}}}',
    '{"op":"OPTION","args":{"option_id":0,"op":0,"object_id":0,"val64":0},"expect":{}}',
    '{"op":"IOAS_ALLOC","expect":{"out":{"out_ioas_id":1}}}',
    '{"op":"IOAS_MAP_FILE","args":{"ioas_id":1,"flags":["WRITEABLE","READABLE"],"fd":3,"start":0,"length":"0x4000"},"expect":{"out":{"iova":"0x1000000"}}}',
    '{"op":"TEST_CREATE_ACCESS","args":{"id":1,"flags":1},"expect":{"out":{"out_access_fd":5}}}',
    '{"op":"TEST_ACCESS_PAGES","args":{"id":5,"flags":0,"iova":"0x1000000","length":"0x2000","uptr":"0x7f0000000000"},"expect":{"out":{"out_access_pages_id":0}}}',
    '{"op":"FORK","expect":{"out":{"pid":2}}}',
    '{"pid":2,"fd":4,"op":"IOAS_CHANGE_PROCESS","expect":{}}',
    '{"op":"CLOSE","args":{"fd":5},"expect":{}}',
    '{"op":"CLOSE","args":{"fd":4},"expect":{}}',
  ].join('\n')}\n`,
);

/** The native VFIO and SPAPR TCE scenarios: type1 and SPAPR containers, pre-registration, the unregister quirk. */
const vfioScenarios = () =>
  ['test/vfio/scenarios', 'test/vfio/spapr-scenarios'].flatMap((d) =>
    readdirSync(join(ROOT, d))
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => join(ROOT, d, f)),
  );

const entries = (targets: Targets) => [...targets].map(([k, v]) => `${k}=${v.kind}:${v.pages}`).sort();

describe('the audit\'s targets', () => {
  it('equal the whole snapshot read again, after every event of the corpus, the examples and the scenarios', () => {
    const files = [
      ...conformanceTraces(),
      join(ROOT, 'examples/vm-boot-hotplug.jsonl'),
      join(ROOT, 'test/replay/scenarios/s2-rlimit-no-partial-charge.jsonl'),
      join(ROOT, 'test/replay/scenarios/s3-copy-vs-second-map.jsonl'),
      CHANGE_PROCESS_WITH_ACCESS,
      join(ROOT, 'examples/power-guest.jsonl'),
      ...vfioScenarios(),
    ];
    let changes = 0;
    for (const file of files) {
      const { header, events } = parseTraceText(readFileSync(file, 'utf8'), file);
      const replayer = new Replayer(header, { ownChoices: false });
      const tracker = new TargetTracker();
      tracker.update(replayer.world);
      let last = entries(measure(replayer.world));
      for (const event of events) {
        const before = replayer.world;
        replayer.feed(event);
        const changed = tracker.update(replayer.world);
        // A state no event changed has the same targets; reading it again would only cost time.
        if (replayer.world === before) {
          expect(changed).toBe(false);
          continue;
        }
        const now = entries(measure(replayer.world));
        expect(entries(tracker.values), `${file}:${event.line}`).toEqual(now);
        expect(changed, `${file}:${event.line}`).toBe(now.join() !== last.join());
        if (changed) changes++;
        last = now;
      }
    }
    expect(changes).toBeGreaterThan(1000);
  }, 120_000);
});

describe('the audit\'s samples', () => {
  const values = (n: number): Targets => new Map([['t', { kind: 'ioas', pages: BigInt(n) }]]);

  it('thin to at most max + 1, each kept sample exact, the last always kept, peaks over every change', () => {
    const samples = new AuditSamples(8);
    // The value after change i (on line 10 + i) is i % 37, with a single spike of 1000 at change 41.
    const valueAt = (i: number) => (i === 41 ? 1000 : i % 37);
    for (let i = 0; i < 200; i++) {
      samples.record(10 + i, 'OP', values(valueAt(i)), () => values(valueAt(i)));
      expect(samples.lines.length).toBeLessThanOrEqual(9);
      expect(samples.lines[samples.lines.length - 1]).toBe(10 + i);
    }
    const s = samples.series.get('t');
    expect(s?.values).toEqual(samples.lines.map((line) => valueAt(line - 10)));
    expect(s).toMatchObject({ peak: 1000, peakLine: 51 });
    expect(samples.stride).toBeGreaterThan(1);
    // The kept samples sit on the stride's grid, but for the last.
    for (const line of samples.lines.slice(0, -1)) expect((line - 10) % samples.stride).toBe(0);
  });

  it('keep every sample up to max', () => {
    const samples = new AuditSamples(8);
    for (let i = 0; i < 8; i++) samples.record(i + 1, 'OP', values(i), () => values(i));
    expect(samples.lines).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(samples.stride).toBe(1);
  });
});

describe('the audit\'s table of pages objects', () => {
  // Maps of 1 to 7 pages, each unmapped again, and one left mapped.
  const N = GONE_PAGES_KEPT + 20;
  const map = (i: number) =>
    JSON.stringify({
      op: 'IOAS_MAP',
      args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: `0x${((((i * 5) % 7) + 1) * 4096).toString(16)}`, iova: '0x1000000' },
    });
  const unmap = '{"op":"IOAS_UNMAP","args":{"ioas_id":1,"iova":0,"length":"U64_MAX"}}';
  const file = join(dir, 'churn.jsonl');
  const lines = [HEADER, '{"op":"OPEN"}', '{"op":"IOAS_ALLOC"}', '{"op":"TEST_MOCK_DOMAIN","args":{"id":1}}'];
  for (let i = 0; i < N; i++) lines.push(map(i), unmap);
  lines.push(map(N));
  writeFileSync(file, `${lines.join('\n')}\n`);

  it('keeps the live pages objects and the largest that went away, in the order they appeared; --history keeps all', async () => {
    const all = await auditFile(file, { ownChoices: false, history: true });
    const kept = await auditFile(file, { ownChoices: false });
    expect(all.replay.error).toBeUndefined();
    expect(all.pages).toHaveLength(N + 1);
    expect('pagesOmitted' in all).toBe(false);
    expect(kept.pagesOmitted).toBe(N - GONE_PAGES_KEPT);
    const live = all.pages[N];
    const gone = all.pages.slice(0, N);
    const largest = new Set(
      [...gone.keys()].sort((a, b) => (gone[b]?.maxPinned ?? 0) - (gone[a]?.maxPinned ?? 0) || a - b).slice(0, GONE_PAGES_KEPT),
    );
    expect(kept.pages).toEqual([...gone.filter((_r, i) => largest.has(i)), live]);
    expect(live?.lastLine).toBe(lines.length);
    // Everything else the audit reports is the same either way.
    expect({ ...kept, pages: [], pagesOmitted: 0 }).toEqual({ ...all, pages: [], pagesOmitted: 0 });
  }, 60_000);
});
