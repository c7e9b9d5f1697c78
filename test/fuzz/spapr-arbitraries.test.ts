/**
 * The fuzzer's SPAPR TCE sequences, run amid the rest of its traffic: most of their ioctls
 * succeed (a sequence sets its container up whatever the run left open, through the fd
 * references of src/fuzz/fd-refs.ts), and between them they reach the kernel's odd answers:
 * the raw 1 of a MAP off a page boundary, TCEs past a window's end, a region left pinned with no
 * container holding it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import { BUFFER, FUZZ_HEADER, type FuzzEvent, PROLOGUE, SHARED_BUFFER, stepArbitrary } from '../../src/fuzz/arbitraries.ts';
import { resolveFds } from '../../src/fuzz/fd-refs.ts';
import { spaprArbitraries } from '../../src/fuzz/spapr-arbitraries.ts';
import { stepQuirks } from '../../src/invariants/invariants.ts';
import { step } from '../../src/model/dispatch.ts';
import { createWorld } from '../../src/model/world-init.ts';
import type { World } from '../../src/model/world.ts';

const SPAPR = spaprArbitraries(BUFFER, SHARED_BUFFER, fc.constant(1));

/** Runs of the fuzzer's steps with a SPAPR sequence every few, each event marked with whether a SPAPR sequence made it. */
const runs = fc.sample(
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: stepArbitrary().map((events) => events.map((e) => [e, false] as const)) },
      { weight: 1, arbitrary: fc.oneof(...SPAPR.sequences).map((events) => events.map((e) => [e, true] as const)) },
    ),
    { minLength: 40, maxLength: 40 },
  ),
  { numRuns: 150, seed: 20261125 },
);

interface Tally {
  readonly answers: Map<string, Map<string, number>>;
  readonly quirks: Map<string, number>;
}

function tallied(): Tally {
  const answers = new Map<string, Map<string, number>>();
  const quirks = new Map<string, number>();
  const header = parseHeader(FUZZ_HEADER);
  for (const run of runs) {
    let world: World = createWorld(header);
    const events: (readonly [FuzzEvent, boolean])[] = [...PROLOGUE.map((e) => [e, false] as const), ...run.flat()];
    events.forEach(([raw, spapr], i) => {
      const event = parseEvent(resolveFds(world, raw), i + 2);
      const { world: next, result } = step(world, event, { adopt: false });
      for (const q of stepQuirks(world, next)) quirks.set(q.quirk, (quirks.get(q.quirk) ?? 0) + 1);
      world = next;
      if (!spapr || result === null) return;
      const answer = result.errno ?? (result.ret !== undefined && event.op.endsWith('_DMA') ? `ret ${result.ret}` : 'ok');
      const byOp = answers.get(event.op) ?? new Map<string, number>();
      byOp.set(answer, (byOp.get(answer) ?? 0) + 1);
      answers.set(event.op, byOp);
    });
  }
  return { answers, quirks };
}

const ratio = (byOp: Map<string, number> | undefined): number => {
  const total = [...(byOp?.values() ?? [])].reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : (byOp?.get('ok') ?? 0) / total;
};

describe("the fuzzer's SPAPR TCE sequences", () => {
  const { answers, quirks } = tallied();

  it('mostly succeed, ioctl by ioctl', () => {
    const rows = [...answers].sort(([a], [b]) => a.localeCompare(b)).map(([op, byOp]) => {
      const total = [...byOp.values()].reduce((a, b) => a + b, 0);
      const rest = [...byOp].filter(([k]) => k !== 'ok').sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
      return `${op.padEnd(36)} ${String(total).padStart(5)} ${(100 * ratio(byOp)).toFixed(0).padStart(3)}% ok  ${rest.join(', ')}`;
    });
    process.stdout.write(`SPAPR sequences, answers per op:\n${rows.join('\n')}\n`);
    const floors: Readonly<Record<string, number>> = {
      VFIO_SET_IOMMU: 0.75,
      VFIO_IOMMU_ENABLE: 0.6,
      VFIO_IOMMU_SPAPR_REGISTER_MEMORY: 0.6,
      VFIO_IOMMU_SPAPR_TCE_GET_INFO: 0.6,
      VFIO_IOMMU_SPAPR_TCE_CREATE: 0.7,
      VFIO_IOMMU_SPAPR_TCE_REMOVE: 0.7,
      VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: 0.45,
      VFIO_IOMMU_MAP_DMA: 0.6,
      VFIO_IOMMU_UNMAP_DMA: 0.65,
      VFIO_IOMMU_DISABLE: 0.7,
    };
    for (const [op, floor] of Object.entries(floors)) expect(ratio(answers.get(op)), op).toBeGreaterThanOrEqual(floor);
  });

  it('reach the near misses and the kernel quirks', () => {
    const map = answers.get('VFIO_IOMMU_MAP_DMA');
    for (const answer of ['ret 1', 'ENXIO', 'EINVAL']) expect(map?.get(answer) ?? 0, answer).toBeGreaterThan(0);
    expect(answers.get('VFIO_IOMMU_SPAPR_REGISTER_MEMORY')?.get('EBUSY') ?? 0).toBeGreaterThan(0);
    expect(answers.get('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY')?.get('ENOENT') ?? 0).toBeGreaterThan(0);
    // A forked child's ioctl on its parent's container.
    expect(answers.get('VFIO_IOMMU_SPAPR_REGISTER_MEMORY')?.get('EPERM') ?? 0).toBeGreaterThan(0);
    for (const quirk of ['prereg-region-leaked', 'tce-past-window']) expect(quirks.get(quirk) ?? 0, quirk).toBeGreaterThan(0);
  });
});
