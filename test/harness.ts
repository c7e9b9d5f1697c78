/**
 * Runs small traces written inline, as the kernel selftest writes its cases: a header with
 * the conformance conventions, then events; each event's result comes back for assertions.
 */
import { expect } from 'vitest';
import { parseTraceText } from '../events/index.ts';
import type { Fields, TraceEvent } from '../events/types.ts';
import { type StepOutcome, step } from '../src/model/dispatch.ts';
import type { World } from '../src/model/world.ts';
import { createWorld } from '../src/model/world-init.ts';
import { traceHeader } from './fixtures.ts';

export const HEADER = traceHeader({
  page_size: 4096,
  hugepage_size: 2097152,
  memory: 'declared',
  mappings: [{ addr: '0x7f0000000000', length: '0x100000', shared: true }],
  processes: [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: ['CAP_SYS_RESOURCE'] }],
});

export interface Ran {
  readonly event: TraceEvent;
  readonly outcome: StepOutcome;
  readonly before: World;
  /** The errno, or 'ok'. */
  readonly errno: string;
  readonly out: Fields;
}

/** Replays `events` (trace event objects, as JSON) on a fresh model from `header`. */
export function runTrace(events: readonly object[], header: object = HEADER, adopt = true): Ran[] {
  const text = [header, ...events].map((e) => JSON.stringify(e)).join('\n');
  const parsed = parseTraceText(text, 'inline.jsonl');
  let world = createWorld(parsed.header);
  const ran: Ran[] = [];
  for (const event of parsed.events) {
    const before = world;
    const outcome = step(world, event, { adopt });
    world = outcome.world;
    const result = outcome.result;
    ran.push({
      event,
      outcome,
      before,
      errno: result === null ? 'unsupported' : (result.errno ?? 'ok'),
      out: result?.out ?? {},
    });
  }
  return ran;
}

/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), NEST_PARENT HWPT 5, vIOMMU 6. */
export const VIOMMU_PROLOGUE: readonly object[] = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['NEST_PARENT'] } },
  { op: 'VIOMMU_ALLOC', args: { dev_id: 3, hwpt_id: 5, type: 'SELFTEST' } },
];

/** The usual prologue: open /dev/iommu (fd 3) and allocate IOAS 1. */
export const OPEN_AND_IOAS = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }];

/** Runs `prologue` then `events`, returning only the results of `events`. */
export function afterPrologue(prologue: readonly object[], events: readonly object[], header: object = HEADER): Ran[] {
  return runTrace([...prologue, ...events], header).slice(prologue.length);
}

/** Runs the usual prologue then `events`. */
export function withIoas(events: readonly object[], header: object = HEADER): Ran[] {
  return afterPrologue(OPEN_AND_IOAS, events, header);
}

/** The event failed with `errno` and left the very snapshot it was given. */
export function refused(r: Ran | undefined, errno: string): void {
  expect(r?.errno).toBe(errno);
  expect(r?.outcome.world).toBe(r?.before);
}

/** The event failed at kernel check `check` (`EINVAL iopt_check_iova: iova unaligned`), leaving the very snapshot it was given. */
export function failedAt(r: Ran | undefined, check: string): void {
  expect(r?.outcome.result?.check).toBe(check);
  refused(r, check.slice(0, check.indexOf(' ')));
}

export const errnos = (ran: readonly Ran[]): string[] => ran.map((r) => r.errno);
