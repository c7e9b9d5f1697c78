/**
 * The fuzzer's power, measured: each hand-made mutant of the model (a bug switch of
 * src/model/mutants.ts) is run against the property suite — the fuzzer's invariants, then the
 * regression traces (the kernel selftest corpus and the accounting scenarios) — and counts as
 * killed when either fails. At least 90% must die; the table of survivors is printed. The
 * switches belong to each model's configuration: models with different bugs on run side by side.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { step } from '../../src/model/dispatch.ts';
import { BUGS, BUG_NAMES, type BugName } from '../../src/model/mutants.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { HEADER } from '../harness.ts';
import { conformanceTraces } from '../conformance/corpus.ts';

/** The corpus less its three 10k-event loops, which add time but no coverage here. */
const REGRESSION = [
  ...conformanceTraces().filter((f) => !/access_rw|fork_gone|ioas_iova_alloc/.test(f)),
  ...readdirSync(resolve(import.meta.dirname, '../replay/scenarios')).map((f) => join(resolve(import.meta.dirname, '../replay/scenarios'), f)),
];

async function killedBy(bugs: ReadonlySet<BugName>): Promise<string | null> {
  const found = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, shrink: false, bugs }).counterexample;
  if (found !== null) return `fuzzer: ${found.message}`;
  for (const file of REGRESSION) {
    const r = await replayFile(file, { ownChoices: false, invariants: true, bugs });
    if (r.diverged > 0 || (r.violations?.length ?? 0) > 0 || r.error !== undefined) return `trace ${file.split('/').pop()}`;
  }
  return null;
}

/**
 * A trace that trips two bugs at different events: an IOAS_MAP with no direction on a missing
 * IOAS (EINVAL before the lookup, `iommufd_ioas_map()`), and RLIMIT_MODE set while the context
 * holds an IOAS (EBUSY, `iommufd_option_rlimit_mode()`), then read back.
 */
const TWO_BUG_TRACE = parseTraceText(
  [
    HEADER,
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'IOAS_MAP', args: { ioas_id: 9, flags: ['FIXED_IOVA'], user_va: '0x7f0000000000', length: '0x1000', iova: '0x1000' } },
    { op: 'OPTION', args: { option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 } },
    { op: 'OPTION', args: { option_id: 'RLIMIT_MODE', op: 'GET' } },
  ]
    .map((e) => JSON.stringify(e))
    .join('\n'),
  'two-bugs.jsonl',
);

/** Runs one model per bug set over the trace, event by event in turn, and gives each model's errnos (or `ok <val64>`). */
function sideBySide(sets: readonly ReadonlySet<BugName>[]): string[][] {
  const worlds = sets.map((bugs) => createWorld(TWO_BUG_TRACE.header, { bugs }));
  const answers: string[][] = sets.map(() => []);
  for (const event of TWO_BUG_TRACE.events) {
    worlds.forEach((world, i) => {
      const { world: next, result } = step(world, event, { adopt: false });
      worlds[i] = next;
      answers[i]?.push(result?.errno ?? `ok ${String(result?.out['val64'] ?? '')}`.trim());
    });
  }
  return answers;
}

const MAP_BUG = 'map-checks-ioas-before-flags';
const BUSY_BUG = 'rlimit-mode-busy-ignored';
const FAITHFUL = ['ok', 'ok', 'EINVAL', 'EBUSY', 'ok 0'];

describe('bug switches', () => {
  it('two models in one process, one with a bug on, answer the same trace differently', () => {
    const [faithful, buggy] = sideBySide([new Set(), new Set([MAP_BUG])]);
    expect(faithful).toEqual(FAITHFUL);
    expect(buggy).toEqual(['ok', 'ok', 'ENOENT', 'EBUSY', 'ok 0']);
  });

  it('two bugs on at once each have their effect', () => {
    const [both, mapOnly, busyOnly] = sideBySide([new Set([MAP_BUG, BUSY_BUG]), new Set([MAP_BUG]), new Set([BUSY_BUG])]);
    expect(both).toEqual(['ok', 'ok', 'ENOENT', 'ok 1', 'ok 1']);
    expect(mapOnly).toEqual(['ok', 'ok', 'ENOENT', 'EBUSY', 'ok 0']);
    expect(busyOnly).toEqual(['ok', 'ok', 'EINVAL', 'ok 1', 'ok 1']);
  });

  it('an unknown bug name is refused, not ignored', () => {
    expect(() => createWorld(TWO_BUG_TRACE.header, { bugs: ['no-such-bug' as BugName] })).toThrow(/no bug named no-such-bug/);
  });
});

describe('mutation testing', () => {
  it('the faithful model survives the whole suite', async () => {
    expect(await killedBy(new Set())).toBeNull();
  });

  it('at least 90% of the mutants are killed', async () => {
    const rows: string[] = [];
    let killed = 0;
    for (const name of BUG_NAMES) {
      const by = await killedBy(new Set([name]));
      if (by !== null) killed++;
      rows.push(`${by === null ? 'SURVIVED' : 'killed  '} ${name.padEnd(32)} ${by ?? BUGS[name]}`);
    }
    process.stdout.write(`mutants killed: ${killed}/${BUG_NAMES.length}\n${rows.join('\n')}\n`);
    expect(BUG_NAMES.length).toBeGreaterThanOrEqual(20);
    expect(killed / BUG_NAMES.length).toBeGreaterThanOrEqual(0.9);
  }, 600_000);
});
