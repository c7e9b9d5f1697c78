/**
 * Bad input to the legacy VFIO additions of format 1.1 gets the one-line error: through the
 * reader (a TraceError naming file, line, key and value), and through the CLI (exit 2, one line
 * on stderr, no stack trace).
 */
import { describe, it } from 'vitest';
import { expectBadEvent, expectBadHeader } from '../events/helpers.ts';
import { DEFAULT_HEADER_LINE } from '../fixtures.ts';
import { cliRefusesInOneLine, headerLine as header } from './native-fixtures.ts';

describe('the new ops', () => {
  it.each([
    [{ op: 'VFIO_GROUP_GET_STATUS', args: { argsz: -1 } }, 'VFIO_GROUP_GET_STATUS args.argsz: -1 is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'VFIO_GROUP_GET_STATUS', args: { group: 7 } }, 'VFIO_GROUP_GET_STATUS args.group: not a field of struct vfio_group_status'],
    [{ op: 'VFIO_GROUP_GET_STATUS', expect: { out: { flags: ['VISIBLE'] } } }, 'VFIO_GROUP_GET_STATUS expect.out.flags[0]: "VISIBLE" is not a flag of VFIO_GROUP_FLAGS_'],
    [{ op: 'VFIO_GROUP_SET_CONTAINER', args: { container_fd: 'three' } }, 'VFIO_GROUP_SET_CONTAINER args.container_fd: "three" is not a number'],
    [{ op: 'VFIO_GROUP_SET_CONTAINER', args: { container: 3 } }, 'VFIO_GROUP_SET_CONTAINER args.container: not an argument of VFIO_GROUP_SET_CONTAINER'],
    [{ op: 'VFIO_GROUP_SET_CONTAINER', args: { group: -7 } }, 'VFIO_GROUP_SET_CONTAINER args.group: -7 is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'VFIO_GROUP_UNSET_CONTAINER', args: { group: 7 } }, 'VFIO_GROUP_UNSET_CONTAINER args.group: not an argument of VFIO_GROUP_UNSET_CONTAINER'],
    [{ op: 'VFIO_GROUP_UNSET_CONTAINER', expect: { out: { ret: 0 } } }, 'VFIO_GROUP_UNSET_CONTAINER expect.out.ret: not an output of VFIO_GROUP_UNSET_CONTAINER'],
    [{ op: 'VFIO_GROUP_GET_DEVICE_FD', args: { dev: 5 } }, 'VFIO_GROUP_GET_DEVICE_FD args.dev: 5 is not a string'],
    [{ op: 'VFIO_GROUP_GET_DEVICE_FD', expect: { out: { ret: 'five' } } }, 'VFIO_GROUP_GET_DEVICE_FD expect.out.ret: "five" is not a number'],
    [{ op: 'VFIO_IOMMU_DIRTY_PAGES', args: { flags: ['BEGIN'] } }, 'VFIO_IOMMU_DIRTY_PAGES args.flags[0]: "BEGIN" is not a flag of VFIO_IOMMU_DIRTY_PAGES_FLAG_'],
    [{ op: 'VFIO_IOMMU_DIRTY_PAGES', args: { bitmap: { pgsz: 4096 } } }, 'VFIO_IOMMU_DIRTY_PAGES args.bitmap.pgsz: not a member of bitmap'],
    [{ op: 'VFIO_IOMMU_DIRTY_PAGES', args: { bitmap: 4096 } }, 'VFIO_IOMMU_DIRTY_PAGES args.bitmap: 4096 is not a record of pgsize, size, data'],
    [{ op: 'VFIO_IOMMU_DIRTY_PAGES', expect: { out: { bitmap: 255 } } }, 'VFIO_IOMMU_DIRTY_PAGES expect.out.bitmap: 255 is not a string'],
    [{ op: 'VFIO_IOMMU_UNMAP_DMA', expect: { out: { bitmap: ['ff'] } } }, 'VFIO_IOMMU_UNMAP_DMA expect.out.bitmap: ["ff"] is not a string'],
    [{ op: 'VFIO_IOMMU_GET_INFO', expect: { out: { caps: 3 } } }, 'VFIO_IOMMU_GET_INFO expect.out.caps: 3 is not an array of records'],
    [{ op: 'VFIO_IOMMU_GET_INFO', expect: { out: { caps: [{ id: 3 }, 3] } } }, 'VFIO_IOMMU_GET_INFO expect.out.caps[1]: 3 is not a record'],
    [{ op: 'OPEN', args: { path: ['/dev/vfio/7'] } }, 'OPEN args.path: ["/dev/vfio/7"] is not a string'],
  ])('%j', async (event, reason) => {
    await expectBadEvent(event, reason);
  });
});

describe('the header: env.vfio, params, device properties', () => {
  it.each([
    [header({ vfio: 'native' }), 'header env.vfio: "native" is not an object'],
    [header({ vfio: { container: 'qemu' } }), 'header env.vfio.container: "qemu" is not "native" or "iommufd"'],
    [header({ vfio: { drivers: 'type1' } }), 'header env.vfio.drivers: "type1" is not an array of driver names'],
    [header({ vfio: { drivers: ['type2'] } }), 'header env.vfio.drivers[0]: "type2" is not one of type1, spapr_tce, noiommu'],
    [header({ vfio: { drivers: ['type1', 'type1'] } }), 'header env.vfio.drivers[1]: "type1" is registered twice'],
    [header({ vfio: { iommufd: true } }), 'header env.vfio.iommufd: not a key of vfio (container, drivers)'],
    [header({ params: [] }), 'header env.params: [] is not an object'],
    [header({ params: { 'vfio_iommu_type1.dma_entry_limit': -1 } }), 'header env.params.vfio_iommu_type1.dma_entry_limit: -1 is not an unsigned int (0 to 2^32 - 1)'],
    [header({}, { params: { 'vfio_iommu_type1.dma_entry_limit': '0x100000000' } }), 'header params.vfio_iommu_type1.dma_entry_limit: 4294967296 is not an unsigned int (0 to 2^32 - 1)'],
    [header({ params: { 'vfio.enable_unsafe_noiommu_mode': 'yes' } }), 'header env.params.vfio.enable_unsafe_noiommu_mode: "yes" is not a boolean parameter (true, false, 0, 1, "Y" or "N")'],
    [header({ params: {} }, { params: {} }), 'header params: given in env too: give the module parameters once, in env'],
    [header({ devices: [{ name: 'a', kind: 'k', msi_isolated: 'no' }] }), 'header env.devices[0].msi_isolated: "no" is not true or false'],
    [header({ devices: [{ name: 'a', kind: 'k', reserved: [{ start: 0, last: 1, type: 'MSIX' }] }] }), 'header env.devices[0].reserved[0].type: "MSIX" is not one of DIRECT, DIRECT_RELAXABLE, RESERVED, MSI, SW_MSI'],
    [header({ devices: [{ name: 'a', kind: 'k', group: '0x80000000' }] }), 'header env.devices[0].group: 2147483648 is not an IOMMU group number (0 to 2^31 - 1)'],
    [header({ devices: [{ name: 'a', kind: 'k', group: 9 }, { name: 'b', kind: 'noiommu', group: 9 }] }), 'header env.devices[1].group: group 9 mixes devices with and without an IOMMU'],
    [header({ processes: [{ pid: 1, caps: ['CAP_SYS_RAWIO', 'CAP_SYS_ADMIN'] }] }), 'header env.processes[0].caps[1]: "CAP_SYS_ADMIN" is not one of CAP_IPC_LOCK, CAP_SYS_RESOURCE, CAP_SYS_RAWIO'],
  ])('%s', async (line, reason) => {
    await expectBadHeader(line, reason);
  });
});

describe('through the CLI', () => {
  cliRefusesInOneLine([
    ['a group op', [DEFAULT_HEADER_LINE, '{"op":"VFIO_GROUP_GET_DEVICE_FD","args":{"dev":{"name":"a"}}}']],
    ['the dirty bitmap op', [DEFAULT_HEADER_LINE, '{"op":"VFIO_IOMMU_DIRTY_PAGES","args":{"flags":["START","BEGIN"]}}']],
    ['env.vfio', [header({ vfio: { container: 'both' } }), '{"op":"OPEN"}']],
  ]);
});
