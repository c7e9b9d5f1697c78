/**
 * The argument structs of every ioctl the trace format names, with the kernel's offsets, sizeof
 * and minimum size (`offsetofend` of the last mandatory member, the `min_size` of iommufd's
 * ioctl table or VFIO's `minsz`). Layouts are x86-64 (`__aligned_u64` and natural alignment).
 *
 * Sources (torvalds/linux): include/uapi/linux/iommufd.h @ b4d90dbc, include/uapi/linux/vfio.h
 * @ 02256acf, drivers/iommu/iommufd/iommufd_test.h @ 80478a2b (the conformance traces' commit);
 * the two dma-buf test ops are newer mainline (iommufd_test.h after 80478a2b).
 */
import type { FieldSpec, ScalarType, StructSpec } from './spec-types.ts';

type FieldOptions = Partial<Pick<FieldSpec, 'dir' | 'names' | 'pointer' | 'count'>>;

const field = (name: string, offset: number, type: ScalarType, options: FieldOptions = {}): FieldSpec => ({
  name,
  offset,
  type,
  dir: 'in',
  ...options,
});
const u8 = (name: string, offset: number, options?: FieldOptions) => field(name, offset, 'u8', options);
const u16 = (name: string, offset: number, options?: FieldOptions) => field(name, offset, 'u16', options);
const u32 = (name: string, offset: number, options?: FieldOptions) => field(name, offset, 'u32', options);
const s32 = (name: string, offset: number, options?: FieldOptions) => field(name, offset, 's32', options);
const u64 = (name: string, offset: number, options?: FieldOptions) => field(name, offset, 'u64', options);

const OUT = { dir: 'out' } as const;
const INOUT = { dir: 'inout' } as const;
const flags = (family: string) => ({ names: { kind: 'flags', family } }) as const;
const enumOf = (family: string) => ({ names: { kind: 'enum', family } }) as const;

const struct = (
  name: string,
  size: number,
  minSize: number,
  sizeField: StructSpec['sizeField'],
  fields: readonly FieldSpec[],
): StructSpec => ({ name, size, minSize, sizeField, fields });

// ---- include/uapi/linux/iommufd.h -------------------------------------------------------------

const size = u32('size', 0);

export const IOMMU_DESTROY = struct('iommu_destroy', 8, 8, 'size', [size, u32('id', 4)]);

export const IOMMU_IOAS_ALLOC = struct('iommu_ioas_alloc', 12, 12, 'size', [
  size,
  u32('flags', 4),
  u32('out_ioas_id', 8, OUT),
]);

export const IOMMU_IOVA_RANGE = struct('iommu_iova_range', 16, 16, null, [u64('start', 0), u64('last', 8)]);

export const IOMMU_IOAS_ALLOW_IOVAS = struct('iommu_ioas_allow_iovas', 24, 24, 'size', [
  size,
  u32('ioas_id', 4),
  u32('num_iovas', 8),
  u32('__reserved', 12),
  u64('allowed_iovas', 16, { pointer: { kind: 'array', element: IOMMU_IOVA_RANGE, countField: 'num_iovas' } }),
]);

export const IOMMU_IOAS_COPY = struct('iommu_ioas_copy', 40, 40, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_IOAS_MAP_')),
  u32('dst_ioas_id', 8),
  u32('src_ioas_id', 12),
  u64('length', 16),
  u64('dst_iova', 24, INOUT),
  u64('src_iova', 32),
]);

// num_iovas is the capacity of the output array on input and the total number of ranges on output.
export const IOMMU_IOAS_IOVA_RANGES = struct('iommu_ioas_iova_ranges', 32, 32, 'size', [
  size,
  u32('ioas_id', 4),
  u32('num_iovas', 8, INOUT),
  u32('__reserved', 12),
  u64('allowed_iovas', 16, { pointer: { kind: 'buffer', element: IOMMU_IOVA_RANGE } }),
  u64('out_iova_alignment', 24, OUT),
]);

export const IOMMU_IOAS_MAP = struct('iommu_ioas_map', 40, 40, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_IOAS_MAP_')),
  u32('ioas_id', 8),
  u32('__reserved', 12),
  u64('user_va', 16),
  u64('length', 24),
  u64('iova', 32, INOUT),
]);

export const IOMMU_IOAS_MAP_FILE = struct('iommu_ioas_map_file', 40, 40, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_IOAS_MAP_')),
  u32('ioas_id', 8),
  s32('fd', 12),
  u64('start', 16),
  u64('length', 24),
  u64('iova', 32, INOUT),
]);

export const IOMMU_IOAS_UNMAP = struct('iommu_ioas_unmap', 24, 24, 'size', [
  size,
  u32('ioas_id', 4),
  u64('iova', 8),
  u64('length', 16, INOUT),
]);

export const IOMMU_OPTION = struct('iommu_option', 24, 24, 'size', [
  size,
  u32('option_id', 4, enumOf('IOMMU_OPTION_')),
  u16('op', 8, enumOf('IOMMU_OPTION_OP_')),
  u16('__reserved', 10),
  u32('object_id', 12),
  u64('val64', 16, INOUT),
]);

export const IOMMU_VFIO_IOAS = struct('iommu_vfio_ioas', 12, 12, 'size', [
  size,
  u32('ioas_id', 4, INOUT),
  u16('op', 8, enumOf('IOMMU_VFIO_IOAS_')),
  u16('__reserved', 10),
]);

// Min size 24: fault_id and __reserved2 came later (IOMMU_HWPT_FAULT_ID_VALID).
export const IOMMU_HWPT_ALLOC = struct('iommu_hwpt_alloc', 48, 24, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_HWPT_ALLOC_')),
  u32('dev_id', 8),
  u32('pt_id', 12),
  u32('out_hwpt_id', 16, OUT),
  u32('__reserved', 20),
  u32('data_type', 24, enumOf('IOMMU_HWPT_DATA_')),
  u32('data_len', 28),
  u64('data_uptr', 32, { pointer: { kind: 'data' } }),
  u32('fault_id', 40),
  u32('__reserved2', 44),
]);

// in_data_type and out_data_type are the two names of one union at offset 24; both are fields
// here so that a trace can use the name that fits its direction.
export const IOMMU_HW_INFO = struct('iommu_hw_info', 40, 32, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_HW_INFO_FLAG_')),
  u32('dev_id', 8),
  u32('data_len', 12, INOUT),
  u64('data_uptr', 16, { pointer: { kind: 'buffer' } }),
  u32('in_data_type', 24, enumOf('IOMMU_HW_INFO_TYPE_')),
  u32('out_data_type', 24, { ...OUT, ...enumOf('IOMMU_HW_INFO_TYPE_') }),
  u8('out_max_pasid_log2', 28, OUT),
  u8('__reserved', 29, { count: 3 }),
  u64('out_capabilities', 32, { ...OUT, ...flags('IOMMU_HW_CAP_') }),
]);

export const IOMMU_HWPT_SET_DIRTY_TRACKING = struct('iommu_hwpt_set_dirty_tracking', 16, 16, 'size', [
  size,
  u32('flags', 4, flags('IOMMU_HWPT_DIRTY_TRACKING_')),
  u32('hwpt_id', 8),
  u32('__reserved', 12),
]);

export const IOMMU_HWPT_GET_DIRTY_BITMAP = struct('iommu_hwpt_get_dirty_bitmap', 48, 48, 'size', [
  size,
  u32('hwpt_id', 4),
  u32('flags', 8, flags('IOMMU_HWPT_GET_DIRTY_BITMAP_')),
  u32('__reserved', 12),
  u64('iova', 16),
  u64('length', 24),
  u64('page_size', 32),
  u64('data', 40, { pointer: { kind: 'buffer' } }),
]);

export const IOMMU_HWPT_INVALIDATE = struct('iommu_hwpt_invalidate', 32, 32, 'size', [
  size,
  u32('hwpt_id', 4),
  u64('data_uptr', 8, { pointer: { kind: 'data', countField: 'entry_num' } }),
  u32('data_type', 16, enumOf('IOMMU_HWPT_INVALIDATE_DATA_')),
  u32('entry_len', 20),
  u32('entry_num', 24, INOUT),
  u32('__reserved', 28),
]);

export const IOMMU_FAULT_ALLOC = struct('iommu_fault_alloc', 16, 16, 'size', [
  size,
  u32('flags', 4),
  u32('out_fault_id', 8, OUT),
  u32('out_fault_fd', 12, OUT),
]);

export const IOMMU_VIOMMU_ALLOC = struct('iommu_viommu_alloc', 40, 24, 'size', [
  size,
  u32('flags', 4),
  u32('type', 8, enumOf('IOMMU_VIOMMU_TYPE_')),
  u32('dev_id', 12),
  u32('hwpt_id', 16),
  u32('out_viommu_id', 20, OUT),
  u32('data_len', 24),
  u32('__reserved', 28),
  u64('data_uptr', 32, { pointer: { kind: 'data' } }),
]);

export const IOMMU_VDEVICE_ALLOC = struct('iommu_vdevice_alloc', 24, 24, 'size', [
  size,
  u32('viommu_id', 4),
  u32('dev_id', 8),
  u32('out_vdevice_id', 12, OUT),
  u64('virt_id', 16),
]);

export const IOMMU_IOAS_CHANGE_PROCESS = struct('iommu_ioas_change_process', 8, 8, 'size', [
  size,
  u32('__reserved', 4),
]);

export const IOMMU_VEVENTQ_ALLOC = struct('iommu_veventq_alloc', 32, 28, 'size', [
  size,
  u32('flags', 4),
  u32('viommu_id', 8),
  u32('type', 12, enumOf('IOMMU_VEVENTQ_TYPE_')),
  u32('veventq_depth', 16),
  u32('out_veventq_id', 20, OUT),
  u32('out_veventq_fd', 24, OUT),
  u32('__reserved', 28),
]);

export const IOMMU_HW_QUEUE_ALLOC = struct('iommu_hw_queue_alloc', 40, 40, 'size', [
  size,
  u32('flags', 4),
  u32('viommu_id', 8),
  u32('type', 12, enumOf('IOMMU_HW_QUEUE_TYPE_')),
  u32('index', 16),
  u32('out_hw_queue_id', 20, OUT),
  u64('nesting_parent_iova', 24),
  u64('length', 32),
]);

// ---- include/uapi/linux/vfio.h ----------------------------------------------------------------

const argsz = u32('argsz', 0);

// minsz = offsetofend(iova_pgsizes); argsz comes back as the size the capability chain needs.
export const VFIO_IOMMU_TYPE1_INFO = struct('vfio_iommu_type1_info', 24, 16, 'argsz', [
  u32('argsz', 0, INOUT),
  u32('flags', 4, { ...OUT, ...flags('VFIO_IOMMU_INFO_') }),
  u64('iova_pgsizes', 8, OUT),
  u32('cap_offset', 16, OUT),
  u32('pad', 20),
]);

export const VFIO_IOMMU_TYPE1_DMA_MAP = struct('vfio_iommu_type1_dma_map', 32, 32, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_DMA_MAP_FLAG_')),
  u64('vaddr', 8),
  u64('iova', 16),
  u64('size', 24),
]);

// data[] (a struct vfio_bitmap with GET_DIRTY_BITMAP) lies past sizeof: the trace's __trailing.
export const VFIO_IOMMU_TYPE1_DMA_UNMAP = struct('vfio_iommu_type1_dma_unmap', 24, 24, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_DMA_UNMAP_FLAG_')),
  u64('iova', 8),
  u64('size', 16, INOUT),
]);

/**
 * struct vfio_iommu_type1_dirty_bitmap (argsz, flags) with the data[] GET_BITMAP reads: struct
 * vfio_iommu_type1_dirty_bitmap_get (iova, size, and the struct vfio_bitmap `bitmap`). minsz =
 * offsetofend(flags); START and STOP read nothing past it.
 */
export const VFIO_IOMMU_TYPE1_DIRTY_BITMAP = struct('vfio_iommu_type1_dirty_bitmap', 48, 8, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_IOMMU_DIRTY_PAGES_FLAG_')),
  u64('iova', 8),
  u64('size', 16),
  u64('bitmap.pgsize', 24),
  u64('bitmap.size', 32),
  u64('bitmap.data', 40),
]);

// minsz = offsetofend(flags); the kernel writes both back.
export const VFIO_GROUP_STATUS = struct('vfio_group_status', 8, 8, 'argsz', [
  argsz,
  u32('flags', 4, { ...OUT, ...flags('VFIO_GROUP_FLAGS_') }),
]);

// minsz = offsetofend(dma32_window_size); ddw is struct vfio_iommu_spapr_tce_ddw_info.
export const VFIO_IOMMU_SPAPR_TCE_INFO = struct('vfio_iommu_spapr_tce_info', 32, 16, 'argsz', [
  argsz,
  u32('flags', 4, { ...OUT, ...flags('VFIO_IOMMU_SPAPR_INFO_') }),
  u32('dma32_window_start', 8, OUT),
  u32('dma32_window_size', 12, OUT),
  u64('ddw.pgsizes', 16, OUT),
  u32('ddw.max_dynamic_windows_supported', 24, OUT),
  u32('ddw.levels', 28, OUT),
]);

export const VFIO_IOMMU_SPAPR_REGISTER_MEMORY = struct('vfio_iommu_spapr_register_memory', 24, 24, 'argsz', [
  argsz,
  u32('flags', 4),
  u64('vaddr', 8),
  u64('size', 16),
]);

export const VFIO_IOMMU_SPAPR_TCE_CREATE = struct('vfio_iommu_spapr_tce_create', 40, 40, 'argsz', [
  argsz,
  u32('flags', 4),
  u32('page_shift', 8),
  u32('__resv1', 12),
  u64('window_size', 16),
  u32('levels', 24),
  u32('__resv2', 28),
  u64('start_addr', 32, OUT),
]);

export const VFIO_IOMMU_SPAPR_TCE_REMOVE = struct('vfio_iommu_spapr_tce_remove', 16, 16, 'argsz', [
  argsz,
  u32('flags', 4),
  u64('start_addr', 8),
]);

// minsz = offsetofend(out_devid); token_uuid_ptr points at a 16-byte UUID (inline `data`).
export const VFIO_DEVICE_BIND_IOMMUFD = struct('vfio_device_bind_iommufd', 24, 16, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_DEVICE_BIND_FLAG_')),
  s32('iommufd', 8),
  u32('out_devid', 12, OUT),
  u64('token_uuid_ptr', 16, { pointer: { kind: 'data' } }),
]);

// minsz = offsetofend(pt_id); pasid is read only with VFIO_DEVICE_ATTACH_PASID.
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = struct('vfio_device_attach_iommufd_pt', 16, 12, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_DEVICE_ATTACH_')),
  u32('pt_id', 8, INOUT),
  u32('pasid', 12),
]);

// minsz = offsetofend(flags); pasid is read only with VFIO_DEVICE_DETACH_PASID.
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = struct('vfio_device_detach_iommufd_pt', 12, 8, 'argsz', [
  argsz,
  u32('flags', 4, flags('VFIO_DEVICE_DETACH_')),
  u32('pasid', 8),
]);

// One range of a VFIO_DEVICE_FEATURE_DMA_BUF request (its `dma_ranges[]`, written inline as `ranges`).
export const VFIO_REGION_DMA_RANGE = struct('vfio_region_dma_range', 16, 16, null, [u64('offset', 0), u64('length', 8)]);

// ---- drivers/iommu/iommufd/iommufd_test.h -----------------------------------------------------

/**
 * struct iommu_test_cmd { u32 size @0; u32 op @4; u32 id @8; u32 __reserved @12; union (48
 * bytes) @16; u32 last @64 }, sizeof 72, min size 68 (offsetofend(last)). Each op gets the
 * header and its own union member, flattened at offset 16. `op` is left out because the trace's
 * op name gives it, and `last` because the kernel never reads it (it only marks the end).
 */
const testCmd = (member: string, fields: readonly FieldSpec[]): StructSpec =>
  struct(`iommu_test_cmd.${member}`, 72, 68, 'size', [size, u32('id', 8), u32('__reserved', 12), ...fields]);

export const TEST_ADD_RESERVED = testCmd('add_reserved', [u64('start', 16), u64('length', 24)]);

const mockDomainOuts = [u32('out_stdev_id', 16, OUT), u32('out_hwpt_id', 20, OUT), u32('out_idev_id', 24, OUT)];

export const TEST_MOCK_DOMAIN = testCmd('mock_domain', mockDomainOuts);

export const TEST_MOCK_DOMAIN_FLAGS = testCmd('mock_domain_flags', [
  ...mockDomainOuts,
  u32('dev_flags', 28, flags('MOCK_FLAGS_DEVICE_')),
]);

export const TEST_MOCK_DOMAIN_REPLACE = testCmd('mock_domain_replace', [u32('pt_id', 16, INOUT)]);

export const TEST_MD_CHECK_MAP = testCmd('check_map', [u64('iova', 16), u64('length', 24), u64('uptr', 32)]);

export const TEST_MD_CHECK_REFS = testCmd('check_refs', [u64('length', 16), u64('uptr', 24), u32('refs', 32)]);

export const TEST_CREATE_ACCESS = testCmd('create_access', [
  u32('out_access_fd', 16, OUT),
  u32('flags', 20, flags('MOCK_FLAGS_ACCESS_CREATE_')),
]);

export const TEST_DESTROY_ACCESS_PAGES = testCmd('destroy_access_pages', [u32('access_pages_id', 16)]);

export const TEST_ACCESS_PAGES = testCmd('access_pages', [
  u32('flags', 16, flags('MOCK_FLAGS_ACCESS_')),
  u32('out_access_pages_id', 20, OUT),
  u64('iova', 24),
  u64('length', 32),
  u64('uptr', 40),
]);

export const TEST_ACCESS_RW = testCmd('access_rw', [
  u64('iova', 16),
  u64('length', 24),
  u64('uptr', 32),
  u32('flags', 40, flags('MOCK_ACCESS_RW_')),
]);

export const TEST_SET_TEMP_MEMORY_LIMIT = testCmd('memory_limit', [u32('limit', 16)]);

export const TEST_ACCESS_REPLACE_IOAS = testCmd('access_replace_ioas', [u32('ioas_id', 16)]);

// The bitmap at uptr says which IOVAs to dirty: its contents are inline `data` (hex bytes).
export const TEST_DIRTY = testCmd('dirty', [
  u32('flags', 16),
  u64('iova', 24),
  u64('length', 32),
  u64('page_size', 40),
  u64('uptr', 48, { pointer: { kind: 'data' } }),
  u64('out_nr_dirty', 56, OUT),
]);

// check_iotlb and check_dev_cache have their own `id`, which would collide with the header's.
export const TEST_MD_CHECK_IOTLB = testCmd('check_iotlb', [u32('check_iotlb.id', 16), u32('check_iotlb.iotlb', 20)]);

export const TEST_TRIGGER_IOPF = testCmd('trigger_iopf', [
  u32('dev_id', 16),
  u32('pasid', 20),
  u32('grpid', 24),
  u32('perm', 28, flags('IOMMU_PGFAULT_PERM_')),
  u64('addr', 32),
]);

export const TEST_DEV_CHECK_CACHE = testCmd('check_dev_cache', [
  u32('check_dev_cache.id', 16),
  u32('check_dev_cache.cache', 20),
]);

export const TEST_TRIGGER_VEVENT = testCmd('trigger_vevent', [u32('dev_id', 16)]);

export const TEST_PASID_ATTACH = testCmd('pasid_attach', [u32('pasid', 16), u32('pt_id', 20, INOUT)]);

export const TEST_PASID_REPLACE = testCmd('pasid_replace', [u32('pasid', 16), u32('pt_id', 20, INOUT)]);

export const TEST_PASID_DETACH = testCmd('pasid_detach', [u32('pasid', 16)]);

export const TEST_PASID_CHECK_HWPT = testCmd('pasid_check', [u32('pasid', 16), u32('hwpt_id', 20)]);

export const TEST_DMABUF_GET = testCmd('dmabuf_get', [u32('length', 16), u32('open_flags', 20)]);

export const TEST_DMABUF_REVOKE = testCmd('dmabuf_revoke', [s32('dmabuf_fd', 16), u32('revoked', 20)]);
