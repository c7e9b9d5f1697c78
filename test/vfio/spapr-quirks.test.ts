/**
 * The SPAPR kernel quirks the invariants report apart from violations (src/invariants/quirks.ts):
 * the model does what the kernel does, the invariants stay green, and each quirk is found once,
 * at the step that brings it about. docs/spapr-unregister-quirk.md tells the first one.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { IncrementalInvariantTracker } from '../../src/invariants/incremental.ts';
import { FullInvariantTracker, checkStep, stepQuirks } from '../../src/invariants/invariants.ts';
import { step } from '../../src/model/dispatch.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { PAGE, PE, RAM, V2, create, map, power, quirksOf, register, remove, unregister } from './spapr-fixtures.ts';

const M64 = 0x4000000n;

/** Every event of a trace with its quirks and the violations both trackers and the step checks find. */
function checked(text: string): { seq: number | null; quirks: string[]; violations: string[] }[] {
  const trace = parseTraceText(text, 'inline.jsonl');
  let world = createWorld(trace.header);
  const full = new FullInvariantTracker();
  const incremental = new IncrementalInvariantTracker();
  return trace.events.map((event) => {
    const outcome = step(world, event, { adopt: true });
    const found = [...(outcome.result === null ? [] : checkStep(world, outcome.world, event, outcome.result)), ...full.check(outcome.world), ...incremental.check(outcome.world)];
    const quirks = stepQuirks(world, outcome.world).map((q) => `${q.quirk}: ${q.detail}`);
    world = outcome.world;
    return { seq: event.seq, quirks, violations: found.map((v) => `${v.invariant}: ${v.detail}`) };
  });
}

const lines = (header: object, events: readonly object[]): string => [header, ...events].map((e) => JSON.stringify(e)).join('\n');

describe('prereg-region-leaked', () => {
  it('the scenario of the issue: reported once, at the unregister that answers 0 with TCEs still pointing into the region', () => {
    const text = readFileSync(resolve(import.meta.dirname, 'spapr-scenarios/spapr-unregister-quirk.jsonl'), 'utf8');
    const steps = checked(text);
    expect(steps.flatMap((s) => s.violations)).toEqual([]);
    expect(steps.filter((s) => s.quirks.length > 0)).toEqual([
      { seq: 8, quirks: ['prereg-region-leaked: pid 1: region 0x7fff80000000+0x4000000 stays pinned and charged (1024 pages) with no container holding it, 256 TCEs pointing into it'], violations: [] },
    ]);
  });
  it('a release that puts the last reference while TCEs of another container point into the region (tce_iommu_prereg_free only warns)', () => {
    const two = power([PE(1), PE(2)]);
    const events = [
      ...V2,
      { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
      { op: 'OPEN', args: { path: '/dev/vfio/2' } },
      { op: 'VFIO_GROUP_SET_CONTAINER', fd: 6, args: { container_fd: 5 } },
      { op: 'VFIO_SET_IOMMU', fd: 5, args: { arg: 'SPAPR_TCE_v2_IOMMU' } },
      register(RAM, M64),
      register(RAM + M64, PAGE, {}, 5),
      map(0n, RAM, PAGE, ['READ'], 5),
      { op: 'CLOSE', args: { fd: 4 } },
      { op: 'CLOSE', args: { fd: 6 } },
    ];
    const steps = checked(lines(two, events));
    expect(steps.flatMap((s) => s.violations)).toEqual([]);
    expect(steps.map((s) => s.quirks.length)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(quirksOf(events, two).world.processes.get(1)?.lockedVm).toBe(M64 / PAGE);
  });
  it('an unregister with no TCE left releases the region: no quirk', () => {
    const { quirks, world } = quirksOf([...V2, register(RAM, M64), map(0n, RAM, PAGE), { op: 'VFIO_IOMMU_UNMAP_DMA', fd: 3, args: { iova: 0, size: '0x10000' } }, unregister(RAM, M64)], power());
    expect(quirks.flat()).toEqual([]);
    expect(world.vfio.spaprMms.size).toBe(0);
  });
});

describe('the other quirks keep the invariants green too', () => {
  it('a CREATE PowerNV refuses after the charge, TCEs past a window: partial effects the step checks take', () => {
    const events = [...V2, remove(0n), create(16, 1n << 30n, 3), create(16, 1n << 30n, 1), register(RAM, M64), map((1n << 30n) - PAGE, RAM, 2n * PAGE), remove(0n)];
    const steps = checked(lines(power(undefined, '0x100000000'), events));
    expect(steps.flatMap((s) => s.violations)).toEqual([]);
    expect(steps.flatMap((s) => s.quirks.map((q) => q.slice(0, q.indexOf(':'))))).toEqual(['tce-table-charge-leaked', 'tce-past-window']);
  });
  it('failures that keep what the kernel keeps: the mm bound by a failed REGISTER, the default window a failed MAP made', () => {
    const events = [...V2, register(RAM + 1n, PAGE), register(RAM, M64), map(1n << 31n, RAM, PAGE)];
    const steps = checked(lines(power(), events));
    expect(steps.flatMap((s) => s.violations)).toEqual([]);
  });
});
