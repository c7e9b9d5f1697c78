/**
 * Attaching devices to nested HWPTs and at PASIDs, one test per kernel check
 * (iommufd_hw_pagetable_attach(), iommufd_device_do_replace(), iommufd_hwpt_pasid_compat() of
 * device.c, iommu_attach_device_pasid() of iommu.c, the mock's set_dev_pasid), through the
 * selftest's PASID ops.
 */
import { describe, expect, it } from 'vitest';
import type { Ioas } from '../../../src/model/world.ts';
import { type Ran, HEADER, errnos, afterPrologue, failedAt, refused } from '../../harness.ts';

/**
 * fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), PASID-capable HWPT 5, a PASID mock
 * device on it (stdev 6, device 7), another PASID-capable HWPT 8.
 */
const PASID = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['PASID'] } },
  { op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 5, dev_flags: ['PASID'] } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['PASID'] } },
];
const attach = (pasid: number, pt: number, id = 6) => ({ op: 'TEST_PASID_ATTACH', args: { id, pasid, pt_id: pt } });
const replace = (pasid: number, pt: number, id = 6) => ({ op: 'TEST_PASID_REPLACE', args: { id, pasid, pt_id: pt } });
const detach = (pasid: number, id = 6) => ({ op: 'TEST_PASID_DETACH', args: { id, pasid } });
const check = (pasid: number, hwpt: number, id = 6) => ({ op: 'TEST_PASID_CHECK_HWPT', args: { id, pasid, hwpt_id: hwpt } });

const after = (events: readonly object[], prologue: readonly object[] = PASID, header: object = HEADER): Ran[] =>
  afterPrologue(prologue, events, header);

describe('IOMMU_TEST_OP_PASID_ATTACH (iommufd_device_attach at a PASID)', () => {
  it('id not a selftest object → ENOENT', () => {
    refused(after([attach(100, 5, 3)])[0], 'ENOENT');
  });
  it('pt_id that does not exist → ENOENT', () => {
    failedAt(after([attach(100, 99)])[0], 'ENOENT iommufd_get_object: no object with this id');
  });
  it('an IOAS → EINVAL: automatic HWPTs are never allocated with IOMMU_HWPT_ALLOC_PASID', () => {
    failedAt(after([attach(100, 1)])[0], 'EINVAL iommufd_hwpt_pasid_compat: hwpt not pasid compatible');
  });
  it('a HWPT not allocated with IOMMU_HWPT_ALLOC_PASID → EINVAL (iommufd_hwpt_pasid_compat)', () => {
    failedAt(after([{ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1 } }, attach(100, 9)])[1], 'EINVAL iommufd_hwpt_pasid_compat: hwpt not pasid compatible');
  });
  it('the RID attached to a HWPT without PASID support → EINVAL', () => {
    failedAt(after([attach(100, 5, 2)])[0], 'EINVAL iommufd_hwpt_pasid_compat: rid hwpt not pasid compatible');
  });
  it('a PASID at or above the device max_pasids → EINVAL (iommu_attach_device_pasid)', () => {
    failedAt(after([attach(1 << 20, 5)])[0], 'EINVAL iommu_attach_device_pasid: pasid not below a device max_pasids');
  });
  it('attaches, holds the HWPT; a second attach at the same PASID → EBUSY', () => {
    const ran = after([attach(100, 5), attach(100, 8), check(100, 5), { op: 'DESTROY', args: { id: 8 } }]);
    expect(ran[0]?.out).toEqual({ pt_id: 5n });
    failedAt(ran[1], 'EBUSY iommufd_hw_pagetable_attach: device already attached at this pasid');
    expect(errnos(ran.slice(2))).toEqual(['ok', 'ok']);
  });
  it('a RID replace to a HWPT without PASID support while a PASID is attached → EINVAL', () => {
    const ran = after([attach(100, 5), { op: 'TEST_MOCK_DOMAIN_REPLACE', args: { id: 6, pt_id: 1 } }]);
    failedAt(ran[1], 'EINVAL iommufd_hwpt_pasid_compat: hwpt not pasid compatible and pasids attached');
  });
});

describe('IOMMU_TEST_OP_PASID_REPLACE (iommufd_device_replace at a PASID)', () => {
  it('nothing attached at the PASID → EINVAL', () => {
    failedAt(after([replace(100, 8)])[0], 'EINVAL iommufd_device_do_replace: nothing attached at this pasid');
  });
  it('the same HWPT is a success that changes nothing', () => {
    const ran = after([attach(100, 5), replace(100, 5)]);
    expect(ran[1]?.out).toEqual({ pt_id: 5n });
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('moves the PASID and its reference', () => {
    const ran = after([attach(100, 5), replace(100, 8), check(100, 8), { op: 'DESTROY', args: { id: 8 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'EBUSY']);
  });
  it('PASID 1024: the mock fails every second set (ENOMEM), keeping the old HWPT and clearing its latch', () => {
    const ran = after([attach(1024, 5), replace(1024, 8), check(1024, 5), replace(1024, 8), check(1024, 8)]);
    expect(errnos(ran)).toEqual(['ok', 'ENOMEM', 'ok', 'ok', 'ok']);
    expect(ran[1]?.outcome.result?.check).toBe('ENOMEM mock_domain_set_dev_pasid_nop: fake error on a second set of pasid 1024');
    // The latch is driver state the failure keeps; the attachment did not move.
    expect(ran[1]?.outcome.world).not.toBe(ran[1]?.before);
  });
  it('PASID 1024: a detach clears the latch, so the next attach arms it again', () => {
    const ran = after([attach(1024, 5), detach(1024), attach(1024, 5), replace(1024, 8)]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ENOMEM']);
  });
});

describe('IOMMU_TEST_OP_PASID_DETACH and PASID_CHECK_HWPT', () => {
  it('detaching a PASID with nothing attached is a no-op success', () => {
    const [r] = after([detach(100)]);
    expect(r?.errno).toBe('ok');
    expect(r?.outcome.world).toBe(r?.before);
  });
  it('detach drops the attachment and the HWPT reference', () => {
    const ran = after([attach(100, 8), detach(100), check(100, 0), { op: 'DESTROY', args: { id: 8 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
  it('check: id not a selftest object → ENOENT', () => {
    refused(after([check(100, 5, 7)])[0], 'ENOENT');
  });
  it('check: hwpt_id 0 with something attached → EINVAL', () => {
    refused(after([check(0, 0)])[0], 'EINVAL');
  });
  it('check: a hwpt_id that does not exist → ENOENT; another type → EINVAL', () => {
    refused(after([check(0, 99)])[0], 'ENOENT');
    refused(after([check(0, 1)])[0], 'EINVAL');
  });
  it('check: a HWPT other than the one attached → EINVAL', () => {
    refused(after([check(0, 8)])[0], 'EINVAL');
  });
});

describe('attaching to a nested HWPT (find_hwpt_paging)', () => {
  const header = {
    ...HEADER,
    env: {
      ...HEADER.env,
      devices: [{ name: 'vf0', kind: 'smmu', nesting: true, reserved: [{ start: '0x8000000', last: '0x80fffff' }] }],
    },
  };
  /** fd 3, IOAS 1, device 2 bound, its NEST_PARENT HWPT 3, a nested HWPT 4 on it. */
  const NESTED = [
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } },
    { op: 'HWPT_ALLOC', args: { dev_id: 2, pt_id: 1, flags: ['NEST_PARENT'] } },
    { op: 'HWPT_ALLOC', args: { dev_id: 2, pt_id: 3, data_type: 'ARM_SMMUV3', data_len: 8, data: '0x0000000000000000' } },
  ];
  const reservedOf = (r: Ran | undefined) =>
    (r?.outcome.world.contexts.get(1)?.objects.get(1) as Ioas).iopt.reserved.map((x) => [x.start, x.last, x.owner]);
  it('the RID reserved regions go into the parent IOAS, and leave with the detach', () => {
    const ran = after(
      [
        { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'vf0', pt_id: 4 } },
        { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', args: { dev: 'vf0' } },
      ],
      NESTED,
      header,
    );
    expect(ran[0]?.out).toEqual({ pt_id: 4n });
    expect(reservedOf(ran[0])).toEqual([[0x8000000n, 0x80fffffn, 'dev:2']]);
    expect(reservedOf(ran[1])).toEqual([]);
  });
  it('a reserved region over an existing area → EADDRINUSE', () => {
    const map = {
      op: 'IOAS_MAP',
      args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x1000', iova: '0x8000000' },
    };
    const ran = after([map, { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'vf0', pt_id: 4 } }], NESTED, header);
    failedAt(ran[1], 'EADDRINUSE iopt_reserve_iova: range meets an area or an allowed range');
  });
});
