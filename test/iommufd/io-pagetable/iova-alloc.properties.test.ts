/**
 * The automatic IOVA allocator gives the literal port's answer (the oracle) on random IO page
 * tables: reserved ranges, allowed ranges, alignments, nearly full spaces, the edges of the
 * 64-bit space, the allocator's bug switches; and the used-span tree it searches mirrors the
 * areas and reserved spans after every command.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../../events/index.ts';
import { changeUsed, emptyIopt } from '../../../src/iommufd/io-pagetable/io-pagetable.ts';
import { allocIova } from '../../../src/iommufd/io-pagetable/iova-alloc.ts';
import { NEWEST_PROFILE } from '../../../src/kernel/profile.ts';
import { step } from '../../../src/model/dispatch.ts';
import { Fail } from '../../../src/model/fail.ts';
import type { BugName } from '../../../src/model/mutants.ts';
import { OrderedMap } from '../../../src/model/ordered-map.ts';
import { firstIntersecting } from '../../../src/model/ranges.ts';
import type { Area, IoPagetable, ModelConfig, Range, ReservedRange, World } from '../../../src/model/world.ts';
import { createWorld } from '../../../src/model/world-init.ts';
import { propertySettings } from '../../fc-settings.ts';
import { runTrace } from '../../harness.ts';
import { oracleAllocIova } from './iova-alloc-oracle.ts';

const U64_MAX = (1n << 64n) - 1n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** 4 KiB pages with 2 MiB huge pages, or 16-byte pages with 64-byte huge pages (spaces fill up fast). */
const geometry = fc.constantFrom({ pageSize: 4096n, hugepageSize: 2097152n }, { pageSize: 16n, hugepageSize: 64n });
const allocBugs = fc.subarray<BugName>(['alloc-align-overflow', 'alloc-ignores-allowed']);

/** Where a run of segments starts: the bottom, the middle and the top of the space. */
const base = (page: bigint) =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: 8n }).map((k) => k * page),
    fc.bigInt({ min: 0n, max: 8n }).map((k) => (1n << 63n) - k * page),
    fc.bigInt({ min: 1n, max: 40n }).map((k) => U64_MAX + 1n - k * page),
    fc.bigInt({ min: 0n, max: U64_MAX }),
  );
/** A segment length: whole pages, a byte off, or huge. */
const extent = (page: bigint) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 4n }).map((k) => k * page) },
    { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 3n * page }) },
    { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 1n << 62n }) },
  );
const segment = (page: bigint) => fc.record({ kind: fc.constantFrom('hole', 'area', 'reserved', 'area', 'hole'), length: extent(page) });

interface Layout {
  readonly areas: Area[];
  readonly reserved: ReservedRange[];
}

/**
 * Runs of back-to-back segments. Runs may overlap one another: an area may then overlap a
 * reserved range (as a FIXED_IOVA map may with its reserved check off), but areas stay
 * disjoint, as every bug switch keeps them (but for one byte) and the oracle's walk needs.
 */
function layoutOf(runs: readonly { start: bigint; segments: readonly { kind: string; length: bigint }[] }[]): Layout {
  const areas: Area[] = [];
  const reserved: ReservedRange[] = [];
  for (const run of runs) {
    let at = run.start;
    for (const { kind, length } of run.segments) {
      if (at > U64_MAX) break;
      const last = at + length - 1n > U64_MAX ? U64_MAX : at + length - 1n;
      if (kind === 'area' && !areas.some((a) => a.start <= last && at <= a.last)) areas.push({ start: at, last, pages: 1, startByte: 0n, prot: 3 });
      if (kind === 'reserved') reserved.push({ start: at, last, owner: null });
      at = last + 1n;
    }
  }
  return { areas, reserved };
}

const ranges = (page: bigint) =>
  fc.array(
    fc.tuple(base(page), extent(page)).map(([start, length]): Range => ({ start, last: start + length - 1n > U64_MAX ? U64_MAX : start + length - 1n })),
    { maxLength: 3 },
  );

/** A source address: none, page or huge page aligned, with a page offset, or anything. */
const address = (page: bigint, huge: bigint) =>
  fc.oneof(
    fc.constant(0n),
    fc.bigInt({ min: 0n, max: 1n << 20n }).map((k) => 0x7f0000000000n + k * page),
    fc.bigInt({ min: 1n, max: 1n << 20n }).map((k) => k * huge),
    fc.bigInt({ min: 1n, max: page - 1n }).map((k) => 0x7f0000000000n + k),
    fc.constantFrom(1n << 63n, U64_MAX, U64_MAX - page + 1n),
    fc.bigInt({ min: 0n, max: U64_MAX }),
  );
const requestLength = (page: bigint, huge: bigint) =>
  fc.oneof(
    fc.bigInt({ min: 1n, max: 4n }).map((k) => k * page),
    fc.bigInt({ min: 1n, max: 3n * page }),
    fc.constantFrom(1n, 2n, huge, huge + page, huge * 2n, U64_MAX / 2n - 1n, U64_MAX / 2n, 1n << 62n),
    fc.bigInt({ min: 1n, max: U64_MAX }),
  );

const scenario = geometry.chain(({ pageSize, hugepageSize }) =>
  fc.record({
    config: allocBugs.map((bugs): ModelConfig => ({ pageSize, hugepageSize, memory: 'any', bugs: new Set(bugs), kernel: NEWEST_PROFILE })),
    runs: fc.array(fc.record({ start: base(pageSize), segments: fc.array(segment(pageSize), { maxLength: 30 }) }), { minLength: 1, maxLength: 3 }),
    aperture: fc.option(fc.tuple(base(pageSize), base(pageSize))),
    allowed: fc.oneof(fc.constant([]), ranges(pageSize)),
    iovaAlignment: fc.constantFrom(1n, pageSize, pageSize * 2n, hugepageSize),
    requests: fc.array(fc.tuple(address(pageSize, hugepageSize), requestLength(pageSize, hugepageSize)), { minLength: 1, maxLength: 12 }),
  }),
);

/** What `iopt_table_add_domain()` reserves around a domain's aperture `[first, last]`. */
function outside(aperture: readonly [bigint, bigint] | null): ReservedRange[] {
  if (aperture === null) return [];
  const [first, last] = aperture[0] <= aperture[1] ? aperture : [aperture[1], aperture[0]];
  return [
    ...(first > 0n ? [{ start: 0n, last: first - 1n, owner: null }] : []),
    ...(last < U64_MAX ? [{ start: last + 1n, last: U64_MAX, owner: null }] : []),
  ];
}

function ioptOf(layout: Layout, allowed: readonly Range[], iovaAlignment: bigint): IoPagetable {
  const iopt = changeUsed(emptyIopt(), { added: layout.areas, reserved: layout.reserved });
  return { ...iopt, allowed: OrderedMap.of(allowed.map((r) => [r.start, r] as const)), iovaAlignment };
}

/** The used-span tree holds every area and every reserved span, and nothing else. */
function expectMirrored(iopt: IoPagetable): void {
  const key = (r: Range) => `${hex(r.start)}-${hex(r.last)}`;
  const want = [...[...iopt.reservedSpans.values()].map((r) => `R ${key(r)}`), ...[...iopt.areas.values()].map((a) => `A ${key(a)}`)].sort();
  const have = [...iopt.used.entries()].map((e) => `${e.tag === 0 ? 'R' : 'A'} ${key(e)}`).sort();
  expect(have).toEqual(want);
}

describe('automatic IOVA allocation', () => {
  it('gives the oracle’s answer, allocation after allocation, on random IO page tables', () => {
    fc.assert(
      fc.property(scenario, ({ config, runs, aperture, allowed, iovaAlignment, requests }) => {
        const layout = layoutOf(runs);
        let iopt = ioptOf({ ...layout, reserved: [...layout.reserved, ...outside(aperture)] }, allowed, iovaAlignment);
        expectMirrored(iopt);
        for (const [addr, length] of requests) {
          const fast = allocIova(iopt, config, addr, length);
          expect(fast).toBe(oracleAllocIova(iopt, config, addr, length));
          // Fill the space: the next request sees the area placed where this one went, unless
          // the overflow bug's wrapped alignment put it on another area (see layoutOf()).
          const last = fast instanceof Fail ? U64_MAX + 1n : fast + length - 1n;
          if (last <= U64_MAX && firstIntersecting(iopt.areas, fast as bigint, last) === undefined) {
            iopt = changeUsed(iopt, { added: [{ start: fast as bigint, last, pages: 1, startByte: 0n, prot: 3 }] });
          }
        }
      }),
      propertySettings(1000),
    );
  });

  it('finds the first fit past many holes that fit only before alignment', () => {
    // 2,000 holes of one 4 KiB page each, every one starting 2 KiB past a page boundary, then free space.
    const config: ModelConfig = { pageSize: 4096n, hugepageSize: 2097152n, memory: 'any', bugs: new Set(), kernel: NEWEST_PROFILE };
    const areas: Area[] = [];
    for (let i = 0n; i < 2000n; i++) areas.push({ start: i * 0x2000n + 0x800n, last: i * 0x2000n + 0x17ffn, pages: 1, startByte: 0n, prot: 3 });
    const iopt = changeUsed(emptyIopt(), { added: areas });
    const at = allocIova(iopt, config, 0x7f0000000000n, 0x1000n);
    expect(at).toBe(2000n * 0x2000n);
    expect(at).toBe(oracleAllocIova(iopt, config, 0x7f0000000000n, 0x1000n));
    // A 2 KiB page offset asks for 2 KiB alignment OR-ed with it: the first hole fits.
    expect(allocIova(iopt, config, 0x7f0000000800n, 0x800n)).toBe(0x1800n);
  });

  const command = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .record({
          fixed: fc.boolean(),
          va: fc.constantFrom(0x7f0000000000n, 0x7f0000000800n, 0x7f0000001000n, 0x7f0000200000n, 0x7f0000003000n),
          length: fc.constantFrom(0x800n, 0x1000n, 0x2000n, 0x3000n, 0x200000n, 0x201000n),
          iova: fc.integer({ min: 0, max: 40 }).map((k) => BigInt(k) * 0x1000n),
        })
        .map((a) => ({ op: 'IOAS_MAP', args: { ioas_id: 1, flags: a.fixed ? ['FIXED_IOVA', 'READABLE'] : ['READABLE'], user_va: hex(a.va), length: hex(a.length), iova: hex(a.iova) } })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({ iova: fc.integer({ min: 0, max: 0x300 }).map((k) => BigInt(k) * 0x1000n), length: fc.constantFrom(0x1000n, 0x2000n, 0x200000n, 0x400000n) })
        .map((a) => ({ op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: hex(a.iova), length: hex(a.length) } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ start: fc.integer({ min: 0, max: 0x300 }).map((k) => BigInt(k) * 0x1000n), length: fc.constantFrom(0x1000n, 0x3000n, 0x200000n) })
        .map((a) => ({ op: 'TEST_ADD_RESERVED', args: { id: 1, start: hex(a.start), length: hex(a.length) } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(fc.integer({ min: 1, max: 0x300 }), fc.integer({ min: 1, max: 0x100 })), { maxLength: 2 })
        .map((r) => ({ op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: r.map(([s, n]) => ({ start: hex(BigInt(s) * 0x1000n), last: hex(BigInt(s + n) * 0x1000n - 1n) })) } })),
    },
  );

  it('maps at the oracle’s IOVA and keeps the used-span tree in step, command after command', () => {
    const header = { trace: 'iommufd', version: 1, env: { memory: 'any' } };
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (cmds) => {
        for (const r of runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, ...cmds], header, false)) {
          const now = r.outcome.world.contexts.first()?.[1].objects.get(1);
          if (now?.type !== 'ioas') continue;
          expectMirrored(now.iopt);
          const fields = r.event.args?.fields ?? {};
          if (r.event.op !== 'IOAS_MAP' || r.errno !== 'ok' || ((fields['flags'] as bigint) & 1n) !== 0n) continue;
          const was = r.before.contexts.first()?.[1].objects.get(1);
          if (was?.type !== 'ioas') throw new Error('IOAS 1 appeared with a map');
          expect(r.out['iova']).toBe(oracleAllocIova(was.iopt, r.before.config, fields['user_va'] as bigint, fields['length'] as bigint));
        }
      }),
      propertySettings(200),
    );
  });

  it('keeps the used-span tree in step through every trace of the VFIO compat and unmap corpus', () => {
    const dir = join(import.meta.dirname, '../../conformance/corpus');
    for (const name of ['iommufd.default.unmap_cmd.jsonl', 'vfio_compat_mock_domain.Ver1v0.map.jsonl', 'vfio_compat_mock_domain.Ver1v2.map.jsonl']) {
      const trace = parseTraceText(readFileSync(join(dir, name), 'utf8'), name);
      let world: World = createWorld(trace.header);
      for (const event of trace.events) {
        const next = step(world, event, { adopt: true }).world;
        for (const [id, ctx] of next.contexts) {
          for (const obj of ctx.objects.values()) {
            const old = world.contexts.get(id)?.objects.get(obj.id);
            if (obj.type === 'ioas' && (old?.type !== 'ioas' || old.iopt !== obj.iopt)) expectMirrored(obj.iopt);
          }
        }
        world = next;
      }
    }
  });
});
