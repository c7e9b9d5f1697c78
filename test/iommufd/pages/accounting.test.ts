/**
 * Pinning and charging (pages.c `do_update_pinned()`, ioas.c `iommufd_ioas_change_process()`,
 * spec §5): who pays, when, and against which RLIMIT_MEMLOCK.
 */
import { describe, expect, it } from 'vitest';
import { checkWorld } from '../../../src/invariants/invariants.ts';
import { traceHeader } from '../../fixtures.ts';
import { errnos, runTrace } from '../../harness.ts';

const header = (proc: object, mappings: object[] = [{ addr: '0x7f0000000000', length: '0x10000', shared: false }]) =>
  traceHeader({ memory: 'declared', mappings, processes: [{ pid: 1, uid: 1000, caps: [], ...proc }] });
const map = (va: string, length: string, iova: string, extra: object = {}) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: va, length, iova, ...extra },
});
const domain = { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } };
const check = (what: string, value: string, extra: object = {}) => ({ op: 'CHECK', args: { what, value, ...extra } });
const last = (rs: ReturnType<typeof runTrace>) => rs[rs.length - 1]?.outcome.world;

describe('who is charged (do_update_pinned)', () => {
  it('nothing is pinned or charged without a domain or an access', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, map('0x7f0000000000', '0x4000', '0x1000000')], header({}));
    const w = last(ran);
    expect(w?.userLockedVm.get(1000) ?? 0n).toBe(0n);
    expect(w?.processes.get(1)?.pinnedVm).toBe(0n);
  });
  it('USER mode (the default) charges the uid, and pinned_vm of the mm', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x4000', '0x1000000')], header({}));
    const w = last(ran);
    expect(w?.userLockedVm.get(1000)).toBe(4n);
    expect(w?.processes.get(1)?.lockedVm).toBe(0n);
    expect(w?.processes.get(1)?.pinnedVm).toBe(4n);
  });
  it('MM mode charges the mm (VmLck)', () => {
    const ran = runTrace(
      [
        { op: 'OPEN' },
        { op: 'OPTION', args: { option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 } },
        { op: 'IOAS_ALLOC' },
        domain,
        map('0x7f0000000000', '0x4000', '0x1000000'),
      ],
      header({ caps: ['CAP_SYS_RESOURCE'] }),
    );
    expect(last(ran)?.processes.get(1)?.lockedVm).toBe(4n);
    expect(last(ran)?.userLockedVm.get(1000) ?? 0n).toBe(0n);
  });
  it('CAP_IPC_LOCK at map time: no locked_vm charge, pinned_vm still counts', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x4000', '0x1000000')], header({ caps: ['CAP_IPC_LOCK'], rlimit_memlock: 0 }));
    expect(ran.map((r) => r.errno)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(last(ran)?.userLockedVm.get(1000) ?? 0n).toBe(0n);
    expect(last(ran)?.processes.get(1)?.pinnedVm).toBe(4n);
  });
  it('a page is pinned and charged once per pages object, however many domains use it', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, domain, map('0x7f0000000000', '0x4000', '0x1000000')], header({}));
    expect(last(ran)?.userLockedVm.get(1000)).toBe(4n);
  });
  it('a partial page counts whole: 0x10 bytes at a page offset pin one page', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000800', '0x800', '0x1000800')], header({}));
    expect(last(ran)?.userLockedVm.get(1000)).toBe(1n);
  });
});

describe('RLIMIT_MEMLOCK (incr_user_locked_vm, __account_locked_vm)', () => {
  it('a charge past the limit is ENOMEM and leaves nothing pinned, charged or mapped', () => {
    const ran = runTrace(
      [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x3000', '0x1000000'), map('0x7f0000003000', '0x2000', '0x1003000')],
      header({ rlimit_memlock: '0x4000' }),
    );
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ENOMEM']);
    const fail = ran[4];
    expect(fail?.outcome.world).toBe(fail?.before);
    expect(last(ran)?.userLockedVm.get(1000)).toBe(3n);
  });
  it('the first domain pins every area: over the limit the attach fails, nothing changes', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, map('0x7f0000000000', '0x8000', '0x1000000'), domain], header({ rlimit_memlock: '0x4000' }));
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ENOMEM']);
    expect(ran[3]?.outcome.world).toBe(ran[3]?.before);
  });
  it('USER mode: every process of a uid shares one locked_vm', () => {
    const h = traceHeader({
      memory: 'any',
      processes: [
        { pid: 1, uid: 1000, rlimit_memlock: '0x4000', caps: [] },
        { pid: 2, uid: 1000, rlimit_memlock: '0x4000', caps: [] },
      ],
    });
    const ran = runTrace(
      [
        { op: 'OPEN' },
        { op: 'IOAS_ALLOC' },
        domain,
        map('0x7f0000000000', '0x3000', '0x1000000'),
        { op: 'OPEN', pid: 2 },
        { op: 'IOAS_ALLOC', pid: 2 },
        { op: 'TEST_MOCK_DOMAIN', pid: 2, args: { id: 1 } },
        { op: 'IOAS_MAP', pid: 2, args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x2000', iova: '0x1000000' } },
      ],
      h,
    );
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ENOMEM']);
  });
  it('lowering the limit later does not uncharge', () => {
    const ran = runTrace(
      [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x4000', '0x1000000'), { op: 'SET_RLIMIT', args: { rlimit_memlock: 0 } }],
      header({}),
    );
    expect(last(ran)?.userLockedVm.get(1000)).toBe(4n);
    expect(checkWorld(last(ran) as never)).toEqual([]);
  });
});

describe('IOMMU_IOAS_CHANGE_PROCESS (iommufd_ioas_change_process)', () => {
  const memfd = [{ op: 'MEMFD_CREATE' }, { op: 'FTRUNCATE', args: { fd: 3, length: '0x4000' } }];
  it('__reserved → EOPNOTSUPP; a non-file area → EINVAL', () => {
    const ran = runTrace(
      [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, map('0x7f0000000000', '0x1000', '0x1000000'), { op: 'IOAS_CHANGE_PROCESS', args: { __reserved: 1 } }, { op: 'IOAS_CHANGE_PROCESS' }],
      header({}),
    );
    expect(errnos(ran).slice(3)).toEqual(['EOPNOTSUPP', 'EINVAL']);
  });
  it('moves the charge to the calling process; ENOMEM past its limit, nothing moved', () => {
    const h = traceHeader({ memory: 'declared', processes: [{ pid: 1, uid: 0, caps: ['CAP_SYS_RESOURCE'] }] });
    const ran = runTrace(
      [
        ...memfd,
        { op: 'OPEN' },
        { op: 'OPTION', args: { option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 } },
        { op: 'IOAS_ALLOC' },
        domain,
        { op: 'IOAS_MAP_FILE', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], fd: 3, start: 0, length: '0x4000', iova: '0x1000000' } },
        { op: 'FORK' },
        { op: 'SET_RLIMIT', pid: 2, args: { rlimit_memlock: '0x2000' } },
        { op: 'IOAS_CHANGE_PROCESS', pid: 2, fd: 4 },
        { op: 'SET_RLIMIT', pid: 2, args: { rlimit_memlock: 'unlimited' } },
        { op: 'IOAS_CHANGE_PROCESS', pid: 2, fd: 4 },
        check('locked_vm', '0', { pid: 1 }),
        check('locked_vm', '0x4000', { pid: 2 }),
      ],
      h,
      false,
    );
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ENOMEM', 'ok', 'ok', 'ok', 'ok']);
    expect(ran[12]?.out).toEqual({ value: 0n });
    expect(ran[13]?.out).toEqual({ value: 0x4000n });
  });
});

describe('processes', () => {
  it('FORK: the child starts with no charge and shares the iommufd; EXIT drops its counters (CHECK: ESRCH)', () => {
    const ran = runTrace(
      [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x1000', '0x1000000'), { op: 'FORK' }, check('pinned_vm', '0', { pid: 2 }), { op: 'IOAS_ALLOC', pid: 2, fd: 3 }, { op: 'EXIT', args: { pid: 2 } }, check('pinned_vm', '0', { pid: 2 })],
      header({}),
      false,
    );
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ESRCH']);
    expect(ran[4]?.out).toEqual({ pid: 2n });
    expect(ran[6]?.out).toEqual({ out_ioas_id: 5n });
  });
  it('closing the last fd of a context uncharges everything it pinned', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x4000', '0x1000000'), { op: 'CLOSE', args: { fd: 3 } }], header({}));
    expect(last(ran)?.userLockedVm.get(1000)).toBe(0n);
    expect(last(ran)?.processes.get(1)?.pinnedVm).toBe(0n);
  });
});

describe('the invariants module catches a broken state', () => {
  it('a counter that does not match the pages objects is a violation', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain, map('0x7f0000000000', '0x4000', '0x1000000')], header({}));
    const w = last(ran);
    if (w === undefined) throw new Error('no world');
    const broken = { ...w, userLockedVm: w.userLockedVm.set(1000, 3n) };
    expect(checkWorld(broken).map((v) => v.invariant)).toEqual(['accounting-sums']);
  });
});
