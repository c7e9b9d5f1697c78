/**
 * vIOMMUs and VDEVICEs, one test per kernel check (iommufd_viommu_alloc_ioctl(),
 * iommufd_vdevice_alloc_ioctl() of viommu.c, the vIOMMU branch of iommufd_hwpt_alloc(), and
 * the mock vIOMMU of selftest.c), in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { HEADER, errnos, afterPrologue, failedAt, refused, VIOMMU_PROLOGUE } from '../../harness.ts';

const DATA = { data_type: 'SELFTEST', data_len: 8, data: { iotlb: '0xbadbeef' } };
/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), NEST_PARENT HWPT 5, vIOMMU 6. */
const VIOMMU = VIOMMU_PROLOGUE;
const viommuAlloc = (args: object = {}) => ({ op: 'VIOMMU_ALLOC', args: { dev_id: 3, hwpt_id: 5, type: 'SELFTEST', ...args } });
const nestedOn = (args: object = {}) => ({ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 6, ...DATA, ...args } });
const vdevice = (virtId: number, args: object = {}) => ({
  op: 'VDEVICE_ALLOC',
  args: { viommu_id: 6, dev_id: 3, virt_id: virtId, ...args },
});
/** A header device behind another IOMMU, bound as device 7 after VIOMMU. */
const OTHER = { ...HEADER, env: { ...HEADER.env, devices: [{ name: 'vf0', kind: 'vtd', nesting: true }] } };
const BIND_OTHER = { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } };

const after = afterPrologue;

const PRE = VIOMMU.slice(0, 4);

describe('IOMMU_VIOMMU_ALLOC (iommufd_viommu_alloc_ioctl)', () => {
  it('flags → EOPNOTSUPP', () => {
    failedAt(after(PRE, [viommuAlloc({ flags: 1 })])[0], 'EOPNOTSUPP iommufd_viommu_alloc_ioctl: flags set or default type');
  });
  it('type IOMMU_VIOMMU_TYPE_DEFAULT → EOPNOTSUPP, before the device lookup', () => {
    refused(after(PRE, [viommuAlloc({ type: 'DEFAULT', dev_id: 99 })])[0], 'EOPNOTSUPP');
  });
  it('dev_id not a device → ENOENT', () => {
    refused(after(PRE, [viommuAlloc({ dev_id: 1 })])[0], 'ENOENT');
  });
  it('a type the driver has no vIOMMU for → EOPNOTSUPP (get_viommu_size)', () => {
    failedAt(after(PRE, [viommuAlloc({ type: '0xdead' })])[0], 'EOPNOTSUPP iommufd_viommu_alloc_ioctl: no vIOMMU of this type for the device');
  });
  it('hwpt_id not a paging HWPT → ENOENT', () => {
    refused(after(PRE, [viommuAlloc({ hwpt_id: 0 })])[0], 'ENOENT');
  });
  it('a HWPT not allocated with NEST_PARENT → EINVAL', () => {
    failedAt(after(PRE, [viommuAlloc({ hwpt_id: 4 })])[0], 'EINVAL iommufd_viommu_alloc_ioctl: hwpt is not a nesting parent');
  });
  it('mock data shorter than out_data → EINVAL (mock_viommu_init)', () => {
    refused(after(PRE, [viommuAlloc({ data_len: 4, data: { in_data: 1 } })])[0], 'EINVAL');
  });
  it('mock data the kernel cannot read → EFAULT', () => {
    refused(after(PRE, [viommuAlloc({ data_len: 24, data_uptr: '0x1000' })])[0], 'EFAULT');
  });
  it('mock data the kernel cannot write back → EFAULT', () => {
    const header = { ...HEADER, env: { ...HEADER.env, mappings: [{ addr: '0x7f0000200000', length: '0x1000', shared: true, prot: ['READ'] }] } };
    const [r] = after(PRE, [viommuAlloc({ data_len: 24, data_uptr: '0x7f0000200000' })], header);
    failedAt(r, 'EFAULT iommu_copy_struct_to_user: data_uptr not writable');
  });
  it('loops in_data back and registers two pages for mmap, lowest free offset from PAGE_SIZE', () => {
    const ran = after(PRE, [viommuAlloc({ data_len: 24, data: { in_data: '0xbeef' } }), viommuAlloc({ data_len: 16, data: {} })]);
    expect(ran[0]?.out).toEqual({
      out_viommu_id: 6n,
      data: { in_data: 0xbeefn, out_data: 0xbeefn, out_mmap_offset: 0x1000n, out_mmap_length: 0x2000n },
    });
    expect(ran[1]?.out).toEqual({ out_viommu_id: 7n, data: { in_data: 0n, out_data: 0n, out_mmap_offset: 0x3000n } });
  });
  it('holds its nesting parent', () => {
    const ran = after(VIOMMU, [{ op: 'DESTROY', args: { id: 5 } }, { op: 'DESTROY', args: { id: 6 } }, { op: 'DESTROY', args: { id: 5 } }]);
    expect(errnos(ran)).toEqual(['EBUSY', 'ok', 'ok']);
  });
});

describe('nested HWPT on a vIOMMU (iommufd_viommu_alloc_hwpt_nested)', () => {
  it('a device behind another IOMMU → EINVAL', () => {
    failedAt(after([...VIOMMU, BIND_OTHER], [nestedOn({ dev_id: 7 })], OTHER)[0], 'EINVAL iommufd_hwpt_alloc: device behind another IOMMU than the vIOMMU');
  });
  it('a flag other than FAULT_ID_VALID|PASID → EOPNOTSUPP', () => {
    failedAt(after(VIOMMU, [nestedOn({ flags: ['DIRTY_TRACKING'] })])[0], 'EOPNOTSUPP iommufd_viommu_alloc_hwpt_nested: bad flags or no data');
  });
  it('no user data → EOPNOTSUPP', () => {
    refused(after(VIOMMU, [{ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 6 } }])[0], 'EOPNOTSUPP');
  });
  it('holds the vIOMMU, not the parent', () => {
    const ran = after(VIOMMU, [
      nestedOn(),
      { op: 'DESTROY', args: { id: 6 } },
      { op: 'DESTROY', args: { id: 7 } },
      { op: 'DESTROY', args: { id: 6 } },
    ]);
    expect(ran[0]?.out).toEqual({ out_hwpt_id: 7n });
    expect(errnos(ran.slice(1))).toEqual(['EBUSY', 'ok', 'ok']);
  });
  it('attaching a device without a VDEVICE on the vIOMMU → ENOENT (mock_domain_nop_attach)', () => {
    const replace = { op: 'TEST_MOCK_DOMAIN_REPLACE', args: { id: 2, pt_id: 7 } };
    const ran = after(VIOMMU, [nestedOn(), replace, vdevice(0x99), replace]);
    refused(ran[1], 'ENOENT');
    expect(ran[3]?.out).toEqual({ pt_id: 7n });
  });
});

describe('IOMMU_VDEVICE_ALLOC (iommufd_vdevice_alloc_ioctl)', () => {
  it('viommu_id not a vIOMMU → ENOENT', () => {
    refused(after(VIOMMU, [vdevice(1, { viommu_id: 5 })])[0], 'ENOENT');
  });
  it('dev_id not a device → ENOENT', () => {
    refused(after(VIOMMU, [vdevice(1, { dev_id: 5 })])[0], 'ENOENT');
  });
  it('a device behind another IOMMU → EINVAL', () => {
    failedAt(after([...VIOMMU, BIND_OTHER], [vdevice(1, { dev_id: 7 })], OTHER)[0], 'EINVAL iommufd_vdevice_alloc_ioctl: device behind another IOMMU');
  });
  it('a device that already has a VDEVICE → EEXIST', () => {
    failedAt(after(VIOMMU, [vdevice(0x99), vdevice(0x88)])[1], 'EEXIST iommufd_vdevice_alloc_ioctl: device already has a vdevice');
  });
  it('a virt_id taken on this vIOMMU → EEXIST, its id given back', () => {
    const second = { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }; // after VDEVICE 7: stdev 8, device 9
    const ran = after(VIOMMU, [vdevice(0x99), second, vdevice(0x99, { dev_id: 9 }), vdevice(0x88, { dev_id: 9 })]);
    failedAt(ran[2], 'EEXIST iommufd_vdevice_alloc_ioctl: virt_id taken');
    expect(ran[3]?.out).toEqual({ out_vdevice_id: 10n });
  });
  it('holds the vIOMMU; DESTROY of the VDEVICE releases it', () => {
    const ran = after(VIOMMU, [vdevice(0x99), { op: 'DESTROY', args: { id: 6 } }, { op: 'DESTROY', args: { id: 7 } }, { op: 'DESTROY', args: { id: 6 } }]);
    expect(errnos(ran)).toEqual(['ok', 'EBUSY', 'ok', 'ok']);
  });
  it('unbinding the device destroys the VDEVICE and leaves its id a tombstone', () => {
    const ran = after(VIOMMU, [
      vdevice(0x99),
      { op: 'DESTROY', args: { id: 2 } },
      { op: 'DESTROY', args: { id: 7 } },
      { op: 'IOAS_ALLOC' },
      { op: 'DESTROY', args: { id: 6 } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ENOENT', 'ok', 'ok']);
    // Ids 2 and 3 were freed with the selftest object and its device; 7 stays taken.
    expect(ran[3]?.out).toEqual({ out_ioas_id: 2n });
  });
});
