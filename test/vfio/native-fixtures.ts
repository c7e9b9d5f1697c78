/**
 * Hosts and event builders for the native VFIO tests: an x86 host with VT-d, two IOMMU groups
 * (group 7 with two functions, group 8 with one), the MSI window reserved as the kernel
 * reports it, and QEMU's order of legacy container ioctls (spec-history §E.3).
 */
import { HEADER } from '../harness.ts';

export const BUF = 0x7f0000000000n;
export const hex = (v: bigint): string => `0x${v.toString(16)}`;

const VTD = {
  kind: 'intel-vtd',
  aperture: { start: '0', last: '0xffffffffffff' },
  pgsize_bitmap: '0x40201000',
  reserved: [{ start: '0xfee00000', last: '0xfeefffff', type: 'MSI' }],
};

export const DEVICES = [
  { name: '0000:01:00.0', group: 7, ...VTD },
  { name: '0000:01:00.1', group: 7, ...VTD },
  { name: '0000:02:00.0', group: 8, ...VTD },
];

/** A host header with the devices above and `more` env keys (`vfio`, `params`, ...). */
export const host = (more: object = {}, processes: readonly object[] = HEADER.env.processes) => ({
  ...HEADER,
  env: { ...HEADER.env, processes, devices: DEVICES, ...more },
});

export const HOST = host();

export const open = (path: string) => ({ op: 'OPEN', args: { path } });
export const setContainer = (group: number, container: number) => ({ op: 'VFIO_GROUP_SET_CONTAINER', fd: group, args: { container_fd: container } });
export const setIommu = (type: number | string, fd?: number) => ({ op: 'VFIO_SET_IOMMU', ...(fd === undefined ? {} : { fd }), args: { arg: type } });
export const checkExtension = (ext: number | string, fd?: number) => ({ op: 'VFIO_CHECK_EXTENSION', ...(fd === undefined ? {} : { fd }), args: { arg: ext } });
export const getInfo = (argsz: number, fd?: number) => ({ op: 'VFIO_IOMMU_GET_INFO', ...(fd === undefined ? {} : { fd }), args: { argsz } });

/** A map of `size` bytes at `iova` from the buffer at `BUF + offset`. */
export const mapDma = (iova: bigint, size: bigint, extra: object = {}, offset = 0n) => ({
  op: 'VFIO_IOMMU_MAP_DMA',
  args: { flags: ['READ', 'WRITE'], vaddr: hex(BUF + offset), iova: hex(iova), size: hex(size), ...extra },
});
export const unmapDma = (iova: bigint, size: bigint, extra: object = {}) => ({
  op: 'VFIO_IOMMU_UNMAP_DMA',
  args: { iova: hex(iova), size: hex(size), ...extra },
});

/** /dev/vfio/vfio as fd 3, group 7 as fd 4 in it, the IOMMU type `type` set. */
export const CONTAINER = (type: number | string) => [open('/dev/vfio/vfio'), open('/dev/vfio/7'), setContainer(4, 3), setIommu(type)];
