/**
 * Bad input to the SPAPR additions of format 1.1 gets the one-line error: the ops' arguments and
 * outputs through the reader (a TraceError naming file, line, key and value), the `spapr`
 * device properties in the header, and both through the CLI (exit 2, one line on stderr).
 */
import { describe, it } from 'vitest';
import { expectBadEvent, expectBadHeader } from '../events/helpers.ts';
import { DEFAULT_HEADER_LINE } from '../fixtures.ts';
import { cliRefusesInOneLine, headerLine } from './native-fixtures.ts';

const header = (devices: readonly object[]) => headerLine({ devices });
const spapr = (more: object, group = 1) => ({ name: `p${group}`, kind: 'spapr', group, ...more });

describe('the SPAPR ops', () => {
  it.each([
    [{ op: 'VFIO_IOMMU_ENABLE', args: { arg: 1 } }, 'VFIO_IOMMU_ENABLE args.arg: not an argument of VFIO_IOMMU_ENABLE'],
    [{ op: 'VFIO_IOMMU_DISABLE', expect: { out: { ret: 0 } } }, 'VFIO_IOMMU_DISABLE expect.out.ret: not an output of VFIO_IOMMU_DISABLE'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', args: { argsz: 'big' } }, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO args.argsz: "big" is not a number'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', expect: { out: { flags: ['DDW2'] } } }, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO expect.out.flags[0]: "DDW2" is not a flag of VFIO_IOMMU_SPAPR_INFO_'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', expect: { out: { ddw: { windows: 2 } } } }, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO expect.out.ddw.windows: not a member of ddw'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', expect: { out: { ddw: 2 } } }, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO expect.out.ddw: 2 is not a record of pgsizes, max_dynamic_windows_supported, levels'],
    [{ op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', args: { vaddr: '0x1g' } }, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY args.vaddr: "0x1g" is not a number'],
    [{ op: 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', args: { iova: 0 } }, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY args.iova: not a field of struct vfio_iommu_spapr_register_memory'],
    [{ op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', args: { size: -1 } }, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY args.size: -1 is out of range for u64 (0 to 2^64 - 1)'],
    [{ op: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', expect: { out: { size: 0 } } }, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY expect.out.size: not an output of VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_CREATE', args: { page_shift: '0x100000000' } }, 'VFIO_IOMMU_SPAPR_TCE_CREATE args.page_shift: "0x100000000" is out of range for u32 (0 to 2^32 - 1)'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_CREATE', expect: { out: { start_addr: true } } }, 'VFIO_IOMMU_SPAPR_TCE_CREATE expect.out.start_addr: true is not a number'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', args: { start: 0 } }, 'VFIO_IOMMU_SPAPR_TCE_REMOVE args.start: not a field of struct vfio_iommu_spapr_tce_remove'],
    [{ op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', expect: { out: { start_addr: 0 } } }, 'VFIO_IOMMU_SPAPR_TCE_REMOVE expect.out.start_addr: not an output of VFIO_IOMMU_SPAPR_TCE_REMOVE'],
    [{ op: 'VFIO_IOMMU_MAP_DMA', expect: { out: { ret: 'one' } } }, 'VFIO_IOMMU_MAP_DMA expect.out.ret: "one" is not a number'],
    [{ op: 'VFIO_IOMMU_UNMAP_DMA', expect: { out: { ret: '0x80000000' } } }, 'VFIO_IOMMU_UNMAP_DMA expect.out.ret: "0x80000000" is out of range for s32 (-2^31 to 2^31 - 1)'],
  ])('%j', async (event, reason) => {
    await expectBadEvent(event, reason);
  });
});

describe('the spapr device properties', () => {
  it.each([
    [header([spapr({ tce32_size: 'big' })]), 'header env.devices[0].tce32_size: "big" is not a number'],
    [header([spapr({ tce32_start: -1 })]), 'header env.devices[0].tce32_start: -1 is out of range for u64 (0 to 2^64 - 1)'],
    [header([spapr({ tce64_start: true })]), 'header env.devices[0].tce64_start: true is not a number'],
    [header([spapr({ pgsizes: [4096] })]), 'header env.devices[0].pgsizes: [4096] is not a number'],
    [header([spapr({ max_dynamic_windows_supported: '0x100000000' })]), 'header env.devices[0].max_dynamic_windows_supported: 4294967296 is out of range for u32 (0 to 2^32 - 1)'],
    [header([spapr({ max_levels: 'five' })]), 'header env.devices[0].max_levels: "five" is not a number'],
    [header([spapr({}), { ...spapr({ tce32_size: '0x40000000' }), name: 'q' }]), 'header env.devices[1].tce32_size: 1073741824 differs from device [0] of group 1 (2147483648): a group is one PE'],
  ])('%s', async (line, reason) => {
    await expectBadHeader(line, reason);
  });
});

describe('through the CLI', () => {
  cliRefusesInOneLine([
    ['a SPAPR op', [DEFAULT_HEADER_LINE, '{"op":"VFIO_IOMMU_SPAPR_TCE_CREATE","args":{"levels":"two"}}']],
    ['ddw', [DEFAULT_HEADER_LINE, '{"op":"VFIO_IOMMU_SPAPR_TCE_GET_INFO","expect":{"out":{"ddw":{"level":1}}}}']],
    ['a spapr device', [header([spapr({ pgsizes: 'all' })]), '{"op":"OPEN"}']],
  ]);
});
