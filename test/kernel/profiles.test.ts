/**
 * The model under a release's profile, at each place a row of the change table changes what a
 * call answers: the selftest struct of 2023 (size 0x38), ops a release does not have, structs
 * that grew, flags, check order, device nodes, and VFIO compat's empty unmap.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { Replayer } from '../../replay/replayer.ts';
import { HEADER, errnos, failedAt, refused, runTrace } from '../harness.ts';

/** The harness header with `env.kernel`. */
const on = (kernel: string, env: object = {}) => ({ ...HEADER, env: { ...HEADER.env, ...env, kernel } });
const NEWEST = HEADER;

const OPEN_IOAS = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }];

/** A 2023 syzkaller-style run, with the results a 6.4 kernel gave: the selftest struct is 0x38 bytes then. */
const SYZ_2023 = [
  { op: 'OPEN', expect: { out: { fd: 3 } } },
  { op: 'IOAS_ALLOC', args: { size: 12 }, expect: { out: { out_ioas_id: 1 } } },
  { op: 'TEST_MOCK_DOMAIN', args: { size: 0x38, id: 1 }, expect: { out: { out_stdev_id: 2, out_hwpt_id: 4 } } },
  { op: 'TEST_CREATE_ACCESS', args: { size: 0x38, id: 1 }, expect: { out: { out_access_fd: 4 } } },
  { op: 'TEST_ADD_RESERVED', args: { size: 0x38, id: 1, start: '0x1000', length: '0x1000' }, expect: {} },
  { op: 'TEST_SET_TEMP_MEMORY_LIMIT', args: { size: 0x38, limit: 4096 }, expect: {} },
  { op: 'TEST_MD_CHECK_REFS', args: { size: 0x38, length: '0x1000', uptr: '0x7f0000000000', refs: 0 }, expect: {} },
];

function replayed(header: object, events: readonly object[], kernel?: string) {
  const trace = parseTraceText([header, ...events].map((e) => JSON.stringify(e)).join('\n'), 'inline.jsonl');
  const r = new Replayer(trace.header, { ownChoices: false, ...(kernel === undefined ? {} : { kernel }) });
  for (const e of trace.events) r.feed(e);
  return r;
}

describe('iommu_test_cmd of size 0x38 (a9af47e382a4, 6.7)', () => {
  it('replays a 2023 syzkaller-style trace clean under 6.4 and under 6.6', () => {
    for (const kernel of ['6.4', 'v6.6.30']) {
      const r = replayed(on(kernel), SYZ_2023);
      expect(r.divergences).toEqual([]);
      expect(r.counts.ok).toBe(SYZ_2023.length);
    }
  });

  it('the newest release refuses every test op of that size: its minimum is 68', () => {
    const r = replayed(NEWEST, SYZ_2023);
    expect(r.divergences.map((d) => d.actual)).toEqual(Array(5).fill({ errno: 'EINVAL' }));
    expect(r.divergences[0]?.check).toBe('EINVAL iommufd_fops_ioctl: size is below the minimum');
  });

  it('--kernel overrides env.kernel', () => {
    expect(replayed(on('6.4'), SYZ_2023, '6.19').counts.diverged).toBe(5);
    expect(replayed(NEWEST, SYZ_2023, '6.4').counts.diverged).toBe(0);
  });

  it('6.6 takes 52 bytes at least (offsetofend(last)) and the full 72 of a newer caller when the rest is zero', () => {
    const ran = runTrace([...OPEN_IOAS, ...[51, 52, 72].map((size) => ({ op: 'TEST_ADD_RESERVED', args: { size, id: 1, start: '0x1000', length: '0x1000' } }))], on('6.6'));
    expect(errnos(ran.slice(2))).toEqual(['EINVAL', 'ok', 'ok']);
  });
});

describe('ops a release does not have', () => {
  it('an iommufd ioctl: size read first (EFAULT for NULL), then ENOTTY; the newest runs it', () => {
    const hwpt = { op: 'HWPT_ALLOC', args: { dev_id: 9, pt_id: 1 } };
    const old = runTrace([...OPEN_IOAS, hwpt, { op: 'HWPT_ALLOC', args: null }], on('6.5')).slice(2);
    failedAt(old[0], 'ENOTTY iommufd_fops_ioctl: no such ioctl in this release');
    refused(old[0], 'ENOTTY');
    failedAt(old[1], 'EFAULT iommufd_fops_ioctl: get_user(size) of a NULL argument');
    expect(errnos(runTrace([...OPEN_IOAS, hwpt], NEWEST).slice(2))).toEqual(['ENOENT']);
  });

  it('a raw IOCTL of that number: ENOTTY, where the newest finds size 0 below the minimum', () => {
    const raw = { op: 'IOCTL', args: { cmd: '0x3b8d' } };
    expect(errnos(runTrace([...OPEN_IOAS, raw], on('6.7')).slice(2))).toEqual(['ENOTTY']);
    expect(errnos(runTrace([...OPEN_IOAS, raw], on('6.8')).slice(2))).toEqual(['EINVAL']);
  });

  it('a selftest op: IOMMU_TEST_CMD size rules first, then EOPNOTSUPP from iommufd_test()', () => {
    const dirty = (size: number) => ({ op: 'TEST_DIRTY', args: { size, id: 1 } });
    const ran = runTrace([...OPEN_IOAS, dirty(0x38), dirty(8)], on('6.6')).slice(2);
    failedAt(ran[0], 'EOPNOTSUPP iommufd_test: no such test op in this release');
    expect(errnos(ran)).toEqual(['EOPNOTSUPP', 'EINVAL']);
  });

  it('a VFIO device cdev ioctl before 6.6: ENOTTY, and no cdev to open', () => {
    const env = { devices: [{ name: 'vf0', kind: 'vtd', cdev: 4, group: 7 }] };
    const events = [{ op: 'OPEN' }, { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio4' } }, { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } }];
    const old = runTrace(events, on('6.5', env));
    expect(errnos(old)).toEqual(['ok', 'ENOENT', 'ENOTTY']);
    failedAt(old[1], 'ENOENT do_sys_open: no VFIO device cdev before 6.6');
    expect(errnos(runTrace(events, on('6.6', env)))).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('structs that grew', () => {
  const prologue = [...OPEN_IOAS, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
  it('HWPT_ALLOC in 6.6 is 24 bytes: user data past them is E2BIG, a zeroed tail of a newer caller is fine', () => {
    // fault_id is past 6.10's 40 bytes too.
    failedAt(runTrace([...prologue, { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, fault_id: 9 } }], on('6.10'))[3], 'E2BIG copy_struct_from_user: non-zero bytes past the kernel struct');
    const withData = { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, data_type: 'SELFTEST', data: { iotlb: 0 } } };
    const plain = { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1 } };
    const old = runTrace([...prologue, withData, plain], on('6.6')).slice(3);
    failedAt(old[0], 'E2BIG copy_struct_from_user: non-zero bytes past the kernel struct');
    expect(errnos(old)).toEqual(['E2BIG', 'ok']);
  });

  it('GET_HW_INFO in 6.6 does not write out_capabilities: its struct ends before them', () => {
    const info = { op: 'GET_HW_INFO', args: { dev_id: 3, data_len: 8, data_uptr: '0x7f0000000000' } };
    const [old] = runTrace([...prologue, info], on('6.6')).slice(3);
    const [now] = runTrace([...prologue, info], NEWEST).slice(3);
    expect(old?.out['out_capabilities']).toBe(0n);
    expect(now?.out['out_capabilities']).not.toBe(0n);
  });
});

describe('flags and the order of checks', () => {
  const prologue = [...OPEN_IOAS, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
  it('HWPT_ALLOC in 6.6 takes no flags, refused before the device lookup; 6.7 looks the device up first', () => {
    const nest = { op: 'HWPT_ALLOC', args: { dev_id: 99, pt_id: 1, flags: ['NEST_PARENT'] } };
    failedAt(runTrace([...prologue, nest], on('6.6'))[3], 'EOPNOTSUPP iommufd_hwpt_alloc: flags is not zero: this release takes none');
    expect(errnos(runTrace([...prologue, nest], on('6.7')).slice(3))).toEqual(['ENOENT']);
  });

  it('HWPT_ALLOC in 6.6 looks pt_id up as an IOAS (ENOENT); 6.7 as any object (EINVAL)', () => {
    const onStdev = { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 2 } };
    const onNothing = { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 99 } };
    const old = runTrace([...prologue, onStdev, onNothing], on('6.6')).slice(3);
    failedAt(old[0], 'ENOENT iommufd_get_ioas: pt_id names no IOAS');
    expect(errnos(old)).toEqual(['ENOENT', 'ENOENT']);
    expect(errnos(runTrace([...prologue, onStdev, onNothing], on('6.7')).slice(3))).toEqual(['EINVAL', 'EINVAL']);
  });

  it('FAULT_ID_VALID before 6.11 and IOMMU_HW_INFO_FLAG_INPUT_TYPE before 6.17 are unknown bits: EOPNOTSUPP', () => {
    const fault = { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['FAULT_ID_VALID'] } };
    failedAt(runTrace([...prologue, fault], on('6.10'))[3], 'EOPNOTSUPP iommufd_hwpt_paging_alloc: flags has unknown bits');
    expect(errnos(runTrace([...prologue, fault], on('6.11')).slice(3))).toEqual(['ENOENT']);
    const info = { op: 'GET_HW_INFO', args: { dev_id: 3, flags: ['INPUT_TYPE'] } };
    failedAt(runTrace([...prologue, info], on('6.16'))[3], 'EOPNOTSUPP iommufd_get_hw_info: flags has unknown bits');
  });

  it('type1 offers VFIO_TYPE1_NESTING_IOMMU until 6.13', () => {
    const check = [{ op: 'OPEN', args: { path: '/dev/vfio/vfio' } }, { op: 'VFIO_CHECK_EXTENSION', args: { arg: 6 } }];
    expect(runTrace(check, on('6.12'))[1]?.outcome.result?.ret).toBe(1n);
    expect(runTrace(check, on('6.13'))[1]?.outcome.result?.ret ?? 0n).toBe(0n);
  });
});

describe('before iommufd (6.2)', () => {
  it('OPEN of /dev/iommu, and of a /dev/vfio/vfio iommufd would serve, fails with ENOENT; VFIO\'s own container opens', () => {
    const old = runTrace([{ op: 'OPEN' }, { op: 'OPEN', args: { path: '/dev/vfio/vfio' } }], on('5.14.0-427.el9'));
    failedAt(old[0], 'ENOENT do_sys_open: no iommufd node before 6.2');
    expect(errnos(old)).toEqual(['ENOENT', 'ok']);
    const served = runTrace([{ op: 'OPEN', args: { path: '/dev/vfio/vfio' } }], on('6.1', { vfio: { container: 'iommufd' } }));
    expect(errnos(served)).toEqual(['ENOENT']);
  });
});

describe("VFIO compat's unmap of an empty range (afb47765f923, 6.18)", () => {
  const compat = [...OPEN_IOAS, { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 'SET' } }];
  const unmap = { op: 'VFIO_IOMMU_UNMAP_DMA', args: { iova: '0x100000', size: '0x1000' } };
  const all = { op: 'VFIO_IOMMU_UNMAP_DMA', args: { flags: ['ALL'] } };

  it('6.6 answers ENOENT and writes size 0 back, leaving the state as it was', () => {
    const [empty, emptied] = runTrace([...compat, unmap, all], on('6.6')).slice(3);
    refused(empty, 'ENOENT');
    expect(empty?.out).toEqual({ size: 0n });
    expect(emptied?.errno).toBe('ok');
  });

  it('the newest succeeds with size 0', () => {
    const [empty] = runTrace([...compat, unmap], NEWEST).slice(3);
    expect(empty?.errno).toBe('ok');
    expect(empty?.out).toEqual({ size: 0n });
  });

  it('IOAS_UNMAP of an empty range is ENOENT in every release', () => {
    const native = { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0x100000', length: '0x1000' } };
    for (const header of [on('6.6'), NEWEST]) expect(errnos(runTrace([...OPEN_IOAS, native], header).slice(2))).toEqual(['ENOENT']);
  });
});
