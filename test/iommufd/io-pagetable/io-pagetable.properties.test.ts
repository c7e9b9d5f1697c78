/**
 * Properties of the IOAS model over random command sequences, biased towards the edges where
 * the kernel's checks live (0, one page ± 1, U64_MAX, ranges that touch or overlap).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { worldToJson } from '../../../replay/snapshot.ts';
import { firstIntersecting, spansOf } from '../../../src/model/ranges.ts';
import type { World } from '../../../src/model/world.ts';
import { type Ran, runTrace } from '../../harness.ts';
import { propertySettings } from '../../fc-settings.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;
const U64_MAX = (1n << 64n) - 1n;

const iova = fc.oneof(
  fc.constantFrom(0n, 0x1000n, 0xfffn, 0x1001n, 0x10000n, 0x11000n, 0x12000n, U64_MAX, U64_MAX - 0xfffn),
  fc.integer({ min: 0, max: 64 }).map((k) => BigInt(k) * 0x800n),
);
const length = fc.oneof(
  fc.constantFrom(0n, 1n, 0x800n, 0x1000n, 0x1001n, 0x2000n, 0x3000n, 0x10000n, U64_MAX, 1n << 63n),
  fc.integer({ min: 1, max: 16 }).map((k) => BigInt(k) * 0x1000n),
);
const uva = fc.constantFrom(0x7f0000000000n, 0x7f0000000800n, 0x7f0000001000n, 0x7f0000200000n, 0n, U64_MAX - 0xfffn);
const ioasId = fc.constantFrom(1, 2, 3, 0);
const flags = fc.constantFrom(['FIXED_IOVA', 'READABLE', 'WRITEABLE'], ['READABLE', 'WRITEABLE'], ['FIXED_IOVA', 'READABLE'], ['READABLE'], ['FIXED_IOVA'], 8);

const command = fc.oneof(
  { weight: 6, arbitrary: fc.record({ ioas_id: ioasId, flags, user_va: uva, length, iova }).map((a) => ({ op: 'IOAS_MAP', args: { ...a, user_va: hex(a.user_va), length: hex(a.length), iova: hex(a.iova) } })) },
  { weight: 4, arbitrary: fc.record({ ioas_id: ioasId, iova, length }).map((a) => ({ op: 'IOAS_UNMAP', args: { ...a, iova: hex(a.iova), length: hex(a.length) } })) },
  { weight: 1, arbitrary: ioasId.map((id) => ({ op: 'IOAS_UNMAP', args: { ioas_id: id, iova: 0, length: 'U64_MAX' } })) },
  { weight: 3, arbitrary: fc.record({ dst_ioas_id: ioasId, src_ioas_id: ioasId, flags, length, dst_iova: iova, src_iova: iova }).map((a) => ({ op: 'IOAS_COPY', args: { ...a, length: hex(a.length), dst_iova: hex(a.dst_iova), src_iova: hex(a.src_iova) } })) },
  { weight: 1, arbitrary: fc.record({ ioas_id: ioasId, r: fc.array(fc.tuple(iova, length), { maxLength: 3 }) }).map((a) => ({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: a.ioas_id, allowed_iovas: a.r.map(([s, l]) => ({ start: hex(s), last: hex(s + l > U64_MAX ? U64_MAX : s + l) })) } })) },
  { weight: 1, arbitrary: fc.record({ id: ioasId, start: iova, length }).map((a) => ({ op: 'TEST_ADD_RESERVED', args: { id: a.id, start: hex(a.start), length: hex(a.length) } })) },
  { weight: 1, arbitrary: fc.constant({ op: 'IOAS_ALLOC' }) },
  { weight: 1, arbitrary: ioasId.map((id) => ({ op: 'DESTROY', args: { id } })) },
  { weight: 1, arbitrary: fc.record({ object_id: ioasId, val64: fc.constantFrom(0, 1) }).map((a) => ({ op: 'OPTION', args: { option_id: 'HUGE_PAGES', op: 'SET', ...a } })) },
  { weight: 1, arbitrary: ioasId.map((id) => ({ op: 'IOAS_IOVA_RANGES', args: { ioas_id: id, num_iovas: 4, allowed_iovas: '0x7f0000000000' } })) },
);

const program = fc.array(command, { maxLength: 40 }).map((cmds) => [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'IOAS_ALLOC' }, ...cmds]);

/** Every IO page table invariant that must hold after any command. */
function checkIopts(world: World): void {
  for (const ctx of world.contexts.values()) {
    const refs = new Map<number, number>();
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      const { iopt } = obj;
      let prevLast = -1n;
      const a = iopt.iovaAlignment - 1n;
      for (const area of iopt.areas.values()) {
        expect(area.start > prevLast, `areas overlap at ${hex(area.start)}`).toBe(true);
        prevLast = area.last;
        expect((area.start & a) | ((area.last - area.start + 1n) & a) | ((area.startByte % 4096n) & a)).toBe(0n);
        expect(firstIntersecting(iopt.reservedSpans, area.start, area.last)).toBeUndefined();
        expect(ctx.pages.has(area.pages)).toBe(true);
        refs.set(area.pages, (refs.get(area.pages) ?? 0) + 1);
      }
      for (const r of iopt.allowed.values()) expect(firstIntersecting(iopt.reservedSpans, r.start, r.last)).toBeUndefined();
    }
    for (const pages of ctx.pages.values()) expect(pages.areaRefs).toBe(refs.get(pages.id));
  }
}

/** A failed command leaves the snapshot it was given, but for the unmap loop's partial effect. */
function checkAtomic(r: Ran): void {
  if (r.errno === 'ok' || r.event.op === 'IOAS_UNMAP') return;
  expect(r.outcome.world, `${r.event.op} failed with ${r.errno} but changed the state`).toBe(r.before);
}

/** A failure names the kernel function and the condition that fired, after its errno. */
function checkNamed(r: Ran): void {
  if (r.errno === 'ok') return;
  expect(r.outcome.result?.check, `${r.event.op} failed with ${r.errno}`).toMatch(new RegExp(`^${r.errno} [a-z_][a-z0-9_]*: [^ ].*[^.]$`));
}

/** An automatic IOVA lands inside the allowed ranges when there are any. */
function checkAutoIova(r: Ran): void {
  if (r.errno !== 'ok' || r.event.op !== 'IOAS_MAP') return;
  const fields = r.event.args?.fields ?? {};
  if (((fields['flags'] as bigint) & 1n) !== 0n) return;
  const ctx = [...r.before.contexts.values()][0];
  const ioas = ctx?.objects.get(Number(fields['ioas_id']));
  if (ioas?.type !== 'ioas' || ioas.iopt.allowed.size === 0) return;
  const start = r.out['iova'] as bigint;
  const last = start + (fields['length'] as bigint) - 1n;
  // Touching allowed ranges form one window (interval_tree_span_iter merges them).
  const inside = [...spansOf(ioas.iopt.allowed.values()).values()].some((x) => x.start <= start && last <= x.last);
  expect(inside, 'automatic IOVA outside the allowed ranges').toBe(true);
}

describe('IOAS model properties', () => {
  it('invariants hold and failures are atomic and name their check after every command', () => {
    fc.assert(
      fc.property(program, (events) => {
        for (const r of runTrace(events, undefined, false)) {
          checkIopts(r.outcome.world);
          checkAtomic(r);
          checkNamed(r);
          checkAutoIova(r);
        }
      }),
      propertySettings(300),
    );
  });

  it('replaying the same trace twice gives identical results and final snapshots', () => {
    fc.assert(
      fc.property(program, (events) => {
        const summary = (rs: Ran[]) => ({
          results: rs.map((r) => [r.outcome.result?.check ?? r.errno, JSON.stringify(r.out, (_k, v) => (typeof v === 'bigint' ? hex(v) : v))]),
          last: JSON.stringify(worldToJson(rs[rs.length - 1]?.outcome.world as World)),
        });
        expect(summary(runTrace(events, undefined, false))).toEqual(summary(runTrace(events, undefined, false)));
      }),
      propertySettings(100),
    );
  });
});
