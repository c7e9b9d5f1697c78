/**
 * Pages objects (pages.c, spec §5): how they are made, pinned through what holds them, charged
 * within a command and settled when the command stores its context back.
 */
import { describe, expect, it } from 'vitest';
import { NOTHING_UNSETTLED } from '../../../src/iommufd/pages/pages.ts';
import type { World } from '../../../src/model/world.ts';
import { traceHeader } from '../../fixtures.ts';
import { type Ran, errnos, failedAt, runTrace } from '../../harness.ts';

const PAGE = 0x1000n;
const BUF = 0x7f0000000000n;
const hex = (n: bigint): string => `0x${n.toString(16)}`;
const header = (proc: object = {}) =>
  traceHeader({
    memory: 'declared',
    mappings: [{ addr: hex(BUF), length: '0x100000', shared: false }],
    processes: [{ pid: 1, uid: 1000, caps: [], ...proc }],
  });
/** A FIXED_IOVA map of `pages` pages of the buffer from page `at`, at IOVA 16 MiB + the same offset. */
const map = (at: bigint, pages: bigint, extra: object = {}) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BUF + at * PAGE), length: hex(pages * PAGE), iova: hex(0x1000000n + at * PAGE), ...extra },
});
const domain = { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } };
const unmapAll = { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: 0, length: 'U64_MAX' } };
const OPEN_IOAS = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }];
const mmMode = { op: 'OPTION', args: { option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 } };
const worldAfter = (ran: readonly Ran[]): World => {
  const w = ran[ran.length - 1]?.outcome.world;
  if (w === undefined) throw new Error('no world');
  return w;
};
const ctxOf = (w: World) => {
  const ctx = w.contexts.get(1);
  if (ctx === undefined) throw new Error('no context');
  return ctx;
};

describe('pages objects (iopt_alloc_user_pages, iopt_alloc_file_pages, iopt_area_*)', () => {
  it('each map makes one, numbered in its context; the last area going frees it when the command settles', () => {
    const ran = runTrace([...OPEN_IOAS, map(0n, 2n), map(4n, 1n), { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: hex(0x1000000n), length: hex(2n * PAGE) } }], header());
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect([...ctxOf(ran[3]!.outcome.world).pages.keys()]).toEqual([1, 2]);
    const ctx = ctxOf(worldAfter(ran));
    expect([...ctx.pages.keys()]).toEqual([2]);
    expect(ctx.nextPagesId).toBe(3);
  });
  it('IOAS_COPY shares the source pages object: it goes only with the last area using it', () => {
    const copy = { op: 'IOAS_COPY', args: { dst_ioas_id: 1, src_ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], src_iova: hex(0x1000000n), dst_iova: hex(0x2000000n), length: hex(PAGE) } };
    const unmapFirst = { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: hex(0x1000000n), length: hex(PAGE) } };
    const ran = runTrace([...OPEN_IOAS, map(0n, 1n), copy, unmapFirst], header());
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ctxOf(ran[3]!.outcome.world).pages.get(1)?.areaRefs).toBe(2);
    expect(ctxOf(worldAfter(ran)).pages.get(1)?.areaRefs).toBe(1);
    expect(ctxOf(worldAfter(runTrace([...OPEN_IOAS, map(0n, 1n), copy, unmapFirst, unmapAll], header()))).pages.size).toBe(0);
  });
  it('a file length past SIZE_MAX - PAGE_SIZE → EINVAL (iopt_alloc_pages)', () => {
    const ran = runTrace(
      [
        { op: 'MEMFD_CREATE' },
        ...OPEN_IOAS,
        { op: 'IOAS_MAP_FILE', fd: 4, args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], fd: 3, start: 0, length: '0xfffffffffffff800', iova: '0x1000000' } },
      ],
      header(),
    );
    failedAt(ran[3], 'EINVAL iopt_alloc_pages: length is 0 or too large');
  });
});

describe('pinning (pfn_reader_user_pin)', () => {
  it('user memory that is not mapped cannot be pinned → EFAULT, nothing changes', () => {
    const ran = runTrace([...OPEN_IOAS, domain, map(0x100n, 1n)], header());
    failedAt(ran[3], 'EFAULT __get_user_pages: no vma, or one without the access');
  });
  it('file pages pin up to the end of the file; past it → EINVAL (memfd_pin_folios)', () => {
    const mapFile = (length: string) => ({
      op: 'IOAS_MAP_FILE',
      fd: 4,
      args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], fd: 3, start: 0, length, iova: '0x1000000' },
    });
    const ran = runTrace(
      [{ op: 'MEMFD_CREATE' }, { op: 'FTRUNCATE', args: { fd: 3, length: '0x4000' } }, { op: 'OPEN' }, { op: 'IOAS_ALLOC', fd: 4 }, { op: 'TEST_MOCK_DOMAIN', fd: 4, args: { id: 1 } }, mapFile('0x5000'), mapFile('0x4000')],
      header(),
    );
    failedAt(ran[5], 'EINVAL memfd_pin_folios: range past the end of the file');
    expect(ran[6]?.errno).toBe('ok');
    expect(worldAfter(ran).userLockedVm.get(1000)).toBe(4n);
  });
});

describe('charging within a command (do_update_pinned)', () => {
  it('USER mode: the limit counts what the command pinned before; a first domain over two areas passes it → ENOMEM', () => {
    const events = [...OPEN_IOAS, map(0n, 3n), map(4n, 3n), domain];
    failedAt(runTrace(events, header({ rlimit_memlock: hex(5n * PAGE) }))[4], 'ENOMEM incr_user_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
    const fits = runTrace(events, header({ rlimit_memlock: hex(6n * PAGE) }));
    expect(errnos(fits)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(worldAfter(fits).userLockedVm.get(1000)).toBe(6n);
  });
  it('MM mode: the same, against the mm', () => {
    const events = [{ op: 'OPEN' }, mmMode, { op: 'IOAS_ALLOC' }, map(0n, 3n), map(4n, 3n), domain];
    const caps = ['CAP_SYS_RESOURCE'];
    failedAt(runTrace(events, header({ caps, rlimit_memlock: hex(5n * PAGE) }))[5], 'ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
    const fits = runTrace(events, header({ caps, rlimit_memlock: hex(6n * PAGE) }));
    expect(worldAfter(fits).processes.get(1)?.lockedVm).toBe(6n);
  });
  it('unmapping every area of many gives back every charge and frees every pages object', () => {
    const maps = Array.from({ length: 64 }, (_, i) => map(BigInt(2 * i), 1n));
    const ran = runTrace([...OPEN_IOAS, domain, ...maps, unmapAll], header());
    expect(ran.every((r) => r.errno === 'ok')).toBe(true);
    expect(worldAfter(ran.slice(0, -1)).userLockedVm.get(1000)).toBe(64n);
    const w = worldAfter(ran);
    expect(w.userLockedVm.get(1000)).toBe(0n);
    expect(w.processes.get(1)?.pinnedVm).toBe(0n);
    expect(ctxOf(w).pages.size).toBe(0);
  });
  it('every command leaves its context settled: nothing owed, nothing pending', () => {
    const ran = runTrace([...OPEN_IOAS, domain, map(0n, 2n), map(4n, 1n), { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: hex(0x1000000n), length: hex(2n * PAGE) } }, unmapAll], header());
    for (const r of ran.slice(1)) expect(ctxOf(r.outcome.world).unsettled).toBe(NOTHING_UNSETTLED);
  });
});

describe('IOMMU_IOAS_CHANGE_PROCESS (charge_current, change_mm)', () => {
  const events = (mode: object[]) => [
    { op: 'MEMFD_CREATE' },
    { op: 'FTRUNCATE', args: { fd: 3, length: '0x4000' } },
    { op: 'OPEN' },
    ...mode,
    { op: 'IOAS_ALLOC', fd: 4 },
    { op: 'TEST_MOCK_DOMAIN', fd: 4, args: { id: 1 } },
    { op: 'IOAS_MAP_FILE', fd: 4, args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], fd: 3, start: 0, length: '0x4000', iova: '0x1000000' } },
    { op: 'FORK' },
    { op: 'SET_RLIMIT', pid: 2, args: { rlimit_memlock: '0x2000' } },
    { op: 'IOAS_CHANGE_PROCESS', pid: 2, fd: 4 },
  ];
  const caps = { uid: 0, caps: ['CAP_SYS_RESOURCE'] };
  it('USER mode: the new owner uid would pass its limit → ENOMEM (incr_user_locked_vm), nothing moved', () => {
    const ran = runTrace(events([]), header(caps), false);
    failedAt(ran[ran.length - 1], 'ENOMEM incr_user_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
  });
  it('MM mode: the new owner mm would pass its limit → ENOMEM (__account_locked_vm), nothing moved', () => {
    const ran = runTrace(events([{ op: 'OPTION', fd: 4, args: { option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 } }]), header(caps), false);
    failedAt(ran[ran.length - 1], 'ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
  });
  it('within the limit the charge moves: pinned_vm leaves the old mm for the new one', () => {
    const ran = runTrace([...events([]).slice(0, -2), { op: 'IOAS_CHANGE_PROCESS', pid: 2, fd: 4 }], header(caps), false);
    expect(ran[ran.length - 1]?.errno).toBe('ok');
    const w = worldAfter(ran);
    expect(w.processes.get(1)?.pinnedVm).toBe(0n);
    expect(w.processes.get(2)?.pinnedVm).toBe(4n);
    expect(ctxOf(w).pages.get(1)?.owner).toBe(2);
  });
});
