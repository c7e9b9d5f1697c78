/**
 * `IOMMU_GET_HW_INFO` (`iommufd_get_hw_info()`, spec §3.12): what the IOMMU behind a device
 * reports: its driver-typed data, capabilities and PASID width.
 */
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { fail } from '../../model/fail.ts';
import { IOMMU_HW_INFO_TYPE_SELFTEST } from '../selftest/mock.ts';
import { userMemoryWritable } from '../../mm/user-memory.ts';
import type { Ctx } from '../../model/world.ts';
import { acceptedFlags } from '../../kernel/profile.ts';

export const IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1n;
export const IOMMU_HW_INFO_TYPE_DEFAULT = 0n;
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1n;
/** Set for a device whose IOMMU does not report CAP_PCI_ATS_SUPPORTED (the mock never does). */
export const IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 8n;
/** `struct iommu_test_hw_info { u32 flags; u32 test_reg; }`. */
const MOCK_HW_INFO_LENGTH = 8n;

export function getHwInfo(call: Call, ctx: Ctx, cmd: Fields): Result {
  const flags = big(cmd, 'flags');
  if ((flags & ~acceptedFlags(call.world.config.kernel, 'GET_HW_INFO', IOMMU_HW_INFO_FLAG_INPUT_TYPE)) !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_get_hw_info', 'flags has unknown bits'));
  }
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_get_hw_info', '__reserved is not zero'));
  const wanted = (flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) !== 0n ? big(cmd, 'in_data_type') : IOMMU_HW_INFO_TYPE_DEFAULT;
  const dev = ctx.objects.get(num(cmd, 'dev_id'));
  if (dev?.type !== 'device') return refuse(call, fail('ENOENT', 'iommufd_get_object', 'no device with this id'));
  const mock = dev.model.kind === 'mock';
  // The mock's hw_info op serves only the default and its own type.
  if (mock && wanted !== IOMMU_HW_INFO_TYPE_DEFAULT && wanted !== IOMMU_HW_INFO_TYPE_SELFTEST) {
    return refuse(call, fail('EOPNOTSUPP', 'mock_domain_hw_info', 'in_data_type is neither default nor selftest'));
  }
  const length = big(cmd, 'data_len');
  const buffer = cmd['data_uptr'];
  if (length > 0n && !userMemoryWritable(call.world, call.process, typeof buffer === 'bigint' ? buffer : 0n, length)) {
    return refuse(call, fail('EFAULT', 'iommufd_get_hw_info', 'copy_to_user of data_uptr faults'));
  }
  return ok(call.world, {
    data_len: mock ? MOCK_HW_INFO_LENGTH : 0n,
    out_data_type: mock ? IOMMU_HW_INFO_TYPE_SELFTEST : 0n,
    out_max_pasid_log2: BigInt(dev.model.maxPasidLog2),
    out_capabilities: (dev.model.dirty ? IOMMU_HW_CAP_DIRTY_TRACKING : 0n) | IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
    __reserved: 0n,
  });
}
