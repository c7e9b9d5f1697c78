/**
 * IOMMU_GET_HW_INFO (`iommufd_get_hw_info()` of device.c, the mock's `mock_domain_hw_info()`),
 * one test per check, in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, afterPrologue } from '../../harness.ts';

/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4). */
const MOCK = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
const info = (args: object = {}) => ({ op: 'GET_HW_INFO', args: { dev_id: 3, data_len: 8, data_uptr: '0x7f0000000000', ...args } });
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);

describe('IOMMU_GET_HW_INFO (iommufd_get_hw_info)', () => {
  it('unknown flags, then __reserved → EOPNOTSUPP, before the device lookup', () => {
    expect(checks(afterPrologue(MOCK, [info({ flags: 2, dev_id: 9 }), info({ __reserved: 1, dev_id: 9 })]))).toEqual([
      'EOPNOTSUPP iommufd_get_hw_info: flags has unknown bits',
      'EOPNOTSUPP iommufd_get_hw_info: __reserved is not zero',
    ]);
  });
  it('an id that is not a device → ENOENT', () => {
    expect(checks(afterPrologue(MOCK, [info({ dev_id: 1 })]))).toEqual(['ENOENT iommufd_get_object: no device with this id']);
  });
  it('the mock serves the default and its own type only → EOPNOTSUPP', () => {
    expect(checks(afterPrologue(MOCK, [info({ flags: ['INPUT_TYPE'], in_data_type: 5 }), info({ flags: ['INPUT_TYPE'], in_data_type: 'SELFTEST' })]))).toEqual([
      'EOPNOTSUPP mock_domain_hw_info: in_data_type is neither default nor selftest',
      'ok',
    ]);
  });
  it('a data buffer nobody mapped → EFAULT', () => {
    expect(checks(afterPrologue(MOCK, [info({ data_uptr: '0x1000' })]))).toEqual(['EFAULT iommufd_get_hw_info: copy_to_user of data_uptr faults']);
  });
});
